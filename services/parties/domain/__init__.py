"""Pure domain core of the parties service: validation and normalization of what clients send.

Nothing here touches gRPC, SQL or Temporal, so every rule can be tested in microseconds and reused by
the servicer, the gateway, the demo data and the benchmarks alike.
"""

from services.parties.domain.errors import DomainValueError

__all__ = ["DomainValueError"]
