"""The `crm` command. One CLI for every role, so that the same image runs anything in Kubernetes and a
developer runs everything with `crm up`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from crm_runtime.settings import ROLES, Settings

app = typer.Typer(help="CRM platform: run, operate and try the services.", no_args_is_help=True, add_completion=False)
serve_app = typer.Typer(help="Run one service's gRPC server.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")

SERVICES = ("parties", "commissions")


def settings() -> Settings:
    """Fails fast, naming the offending variable, when the environment holds a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            name = "CRM_" + "_".join(str(p) for p in err["loc"]).upper()
            typer.echo(f"configuration error: {name}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the local stack keeps its data (default CRM_STATE_DIR, .crm).")
    ] = None,
    gateway_port: int = 8000,
    parties_port: int = 50051,
    commissions_port: int = 50052,
    temporal_port: int = 7233,
    ui_port: int = 8233,
    parties_metrics_port: int = 9101,
    worker_metrics_port: int = 9102,
    commissions_metrics_port: int = 9103,
    demo: Annotated[bool, typer.Option(help="Load demo data when the register is empty.")] = False,
) -> None:
    """Run the whole platform locally in this terminal (Ctrl-C stops everything)."""
    from crmctl.stack import LocalStack, StackPorts

    s = settings()
    stack = LocalStack(
        (data_dir or s.state_dir).resolve(),
        StackPorts(
            gateway=gateway_port,
            parties=parties_port,
            commissions=commissions_port,
            temporal=temporal_port,
            temporal_ui=ui_port,
            parties_metrics=parties_metrics_port,
            worker_metrics=worker_metrics_port,
            commissions_metrics=commissions_metrics_port,
        ),
        s,
    )
    sys.exit(stack.run(load_demo=demo))


def _serve(serve: Any, port: int | None, migrate: bool) -> None:
    """Runs a service's `serve` with the environment's settings, the port option winning."""
    s = settings()
    if port is not None:
        s.grpc_port = port
    asyncio.run(serve(s, migrate=migrate))


@serve_app.command("parties")
def serve_parties(
    port: Annotated[int | None, typer.Option(help="gRPC port (default CRM_GRPC_PORT).")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = False,
) -> None:
    """The parties service (the customer and partner register)."""
    from services.parties.main import serve

    _serve(serve, port, migrate)


@serve_app.command("commissions")
def serve_commissions(
    port: Annotated[int | None, typer.Option(help="gRPC port (default CRM_GRPC_PORT).")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = False,
) -> None:
    """The commissions service (plans, transactions, calculation runs, statements, payroll export)."""
    from services.commissions.main import serve

    _serve(serve, port, migrate)


@app.command()
def worker() -> None:
    """The Temporal worker running the platform's workflows and activities."""
    from workflows.main import serve

    asyncio.run(serve(settings()))


@app.command()
def gateway(port: Annotated[int | None, typer.Option(help="HTTP port (default CRM_GATEWAY_PORT).")] = None) -> None:
    """The API gateway for web and mobile clients."""
    from gateway.main import serve

    s = settings()
    if port is not None:
        s.gateway_port = port
    asyncio.run(serve(s))


@app.command()
def migrate(service: Annotated[str, typer.Argument(help="Service to migrate, or 'all'.")] = "all") -> None:
    """Apply database migrations (safe to repeat)."""
    from crm_runtime.db import migrate as run

    s = settings()
    targets = SERVICES if service == "all" else (service,)
    for name in targets:
        if name not in SERVICES:
            typer.echo(f"unknown service {name!r}; known: {', '.join(SERVICES)}", err=True)
            raise typer.Exit(2)
        run(Path(__file__).resolve().parent.parent / "services" / name / "migrations", s.service_database_url(name))
        typer.echo(f"{name}: migrated")


@app.command()
def token(
    role: Annotated[list[str], typer.Option("--role", "-r", help=f"One of: {', '.join(ROLES)} (repeatable).")],
    subject: Annotated[str, typer.Option(help="The user the token is for.")] = "dev",
    name: str = "",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 8 * 3600,
) -> None:
    """Issue a bearer token for the local gateway."""
    from gateway.auth import issue_token

    unknown = [r for r in role if r not in ROLES]
    if unknown:
        typer.echo(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    typer.echo(issue_token(settings(), subject=subject, roles=list(role), ttl_seconds=ttl, name=name))


@app.command()
def demo(
    count: Annotated[int, typer.Option(help="How many parties to create.")] = 3000,
    address: Annotated[str | None, typer.Option(help="Parties gRPC address (default CRM_PARTIES_ADDRESS).")] = None,
    seed: int = 42,
    concurrency: int = 32,
) -> None:
    """Load realistic demo data through the public gRPC API."""
    from crmctl.demo import load_demo

    s = settings()
    summary = asyncio.run(load_demo(address or s.parties_address, count=count, seed=seed, concurrency=concurrency))
    typer.echo(summary)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
