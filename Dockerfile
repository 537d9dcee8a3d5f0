# syntax=docker/dockerfile:1
# One image for every role of the platform (`crm serve <service>`, `crm worker`, `crm gateway`,
# `crm migrate`); the Helm chart runs each role as its own Deployment of this image.
#   docker build -t ghcr.io/crm-platform/crm:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the package and exactly its pinned runtime dependencies ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/crm
# The DejaVu fonts plan documents (PDF) are set in: Cyrillic and Latin. Copied into the runtime stage.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a code change does not reinstall them.
COPY requirements.txt pyproject.toml ./
# pip's constraints take no extras: "sqlalchemy[asyncio]==x" becomes "sqlalchemy==x".
RUN grep -vE '^\s*(#|$)' requirements.txt | sed -E 's/\[[^]]*\]//' > /tmp/constraints.txt \
    && /opt/crm/bin/pip install setuptools -c /tmp/constraints.txt
COPY crm_runtime ./crm_runtime
COPY crmctl ./crmctl
COPY services ./services
COPY workflows ./workflows
COPY gateway ./gateway
COPY dashboards ./dashboards
COPY gen ./gen
# The runtime dependencies named in pyproject.toml, at the versions pinned in requirements.txt; no test
# or build tools, no local-stack extras (embedded PostgreSQL, Temporal dev server).
RUN /opt/crm/bin/pip install --no-build-isolation -c /tmp/constraints.txt . \
    && /opt/crm/bin/pip uninstall -y pip setuptools \
    && /opt/crm/bin/python -m compileall -q /opt/crm/lib

# --- runtime: the interpreter, the virtual environment and an unprivileged user; nothing else ----------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="crm" \
      org.opencontainers.image.description="Open customer-engagement platform: every role in one image" \
      org.opencontainers.image.source="https://github.com/crm-platform/crm"
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin crm
COPY --from=build /opt/crm /opt/crm
COPY --from=build /usr/share/fonts/truetype/dejavu /usr/share/fonts/truetype/dejavu
ENV PATH=/opt/crm/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CRM_GRPC_HOST=0.0.0.0 \
    CRM_GATEWAY_HOST=0.0.0.0 \
    CRM_METRICS_HOST=0.0.0.0
# Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
WORKDIR /tmp
EXPOSE 50051 8000 9090
ENTRYPOINT ["crm"]
CMD ["--help"]
