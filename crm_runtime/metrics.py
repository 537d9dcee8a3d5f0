"""Prometheus metrics every process exports on /metrics: the per-RPC RED metrics live here so that
every service names them the same and one dashboard fits all."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_SERVER_HANDLED = Counter(
    "crm_grpc_server_handled_total",
    "gRPC calls completed by the server, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SERVER_LATENCY = Histogram(
    "crm_grpc_server_handling_seconds",
    "Time the server took to handle a gRPC call, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
    buckets=RPC_LATENCY_BUCKETS,
)
GRPC_SERVER_IN_FLIGHT = Gauge(
    "crm_grpc_server_in_flight",
    "gRPC calls being handled right now.",
    ["grpc_service"],
)
DB_POOL_CHECKED_OUT = Gauge(
    "crm_db_pool_connections_in_use", "Database connections checked out of the pool.", ["service"]
)
DB_POOL_SIZE = Gauge("crm_db_pool_size", "Configured size of the database connection pool.", ["service"])
DB_POOL_MAX = Gauge(
    "crm_db_pool_max_connections",
    "Most connections the pool will open (its size plus overflow): in use over this is the saturation.",
    ["service"],
)


def start_metrics_server(port: int, host: str = "127.0.0.1") -> int:
    """Serves /metrics on its own port and returns the port (useful when port=0 picks a free one)."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_address[1])
