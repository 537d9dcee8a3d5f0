"""Process settings from the environment (prefix CRM_), validated at start-up so that a bad value stops
the process with a clear message instead of failing later in a request."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where the local stack keeps its data (database cluster, dev keys, Temporal's database).
DEFAULT_STATE_DIR = PROJECT_ROOT / ".crm"

ROLES = (
    "admin",
    "data_steward",
    "senior_data_steward",
    "agent",
    "marketer",
    "sales",
    "manager",
    "finance",
    "compensation",
    "director",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    # Shared database URL; a per-service URL (CRM_PARTIES_DATABASE_URL...) wins over it.
    database_url: str | None = None
    parties_database_url: str | None = None
    commissions_database_url: str | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "crm"
    temporal_task_queue: str = "crm-workflows"

    parties_address: str = "127.0.0.1:50051"
    commissions_address: str = "127.0.0.1:50052"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # 0.0.0.0 in a container, so Prometheus can scrape the pod; loopback on a laptop.
    metrics_host: str = "127.0.0.1"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65535)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Browser origins allowed to call the gateway (comma-separated); empty disables CORS.
    cors_origins: str = ""
    jwt_secret: str | None = None
    jwt_issuer: str = "crm-local"
    jwt_audience: str = "crm-api"

    state_dir: Path = DEFAULT_STATE_DIR
    erasure_grace_period_days: float = Field(default=30.0, ge=0)
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # Duplicate prevention (parties). Thresholds are in bits of evidence; unset, the trained defaults of
    # the matcher's parameters apply. A score at or above the match threshold is refused on create, one
    # at or above the possible threshold opens a review case.
    duplicate_match_threshold: float | None = Field(default=None, ge=-100, le=200)
    duplicate_possible_threshold: float | None = Field(default=None, ge=-100, le=200)
    # A blocking key shared by more parties than this is skipped (and reported), not compared.
    duplicate_max_block_size: int = Field(default=1000, ge=10, le=100_000)
    # Review cases: remind after this long without a decision, escalate to a senior steward after that.
    duplicate_review_reminder_hours: float = Field(default=48.0, gt=0)
    duplicate_review_escalation_hours: float = Field(default=120.0, gt=0)

    # Commissions: individual plan approvals and disputes remind after the first SLA and escalate to the
    # assignee's manager after the second; a director approves plans whose target incentive is above the
    # threshold (in the plan's currency). A distribution drafts and submits documents in batches, at most
    # `distribution_concurrency` at a time.
    plan_approval_reminder_hours: float = Field(default=48.0, gt=0)
    plan_approval_escalation_hours: float = Field(default=120.0, gt=0)
    plan_approval_director_threshold: float = Field(default=300_000.0, ge=0)
    dispute_reminder_hours: float = Field(default=48.0, gt=0)
    dispute_escalation_hours: float = Field(default=120.0, gt=0)
    distribution_batch_size: int = Field(default=100, ge=1, le=1000)
    distribution_concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("database_url", "parties_database_url", "commissions_database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL (postgresql://user:pass@host:port/db)")
        return value

    def service_database_url(self, service: str) -> str:
        url = getattr(self, f"{service}_database_url", None) or self.database_url
        if not url:
            raise RuntimeError(
                f"no database configured for {service}: set CRM_{service.upper()}_DATABASE_URL or "
                "CRM_DATABASE_URL (`crm up` sets it for the local stack)"
            )
        return url


def load_settings() -> Settings:
    return Settings()
