"""The small runtime every process of the platform shares: settings, logging, telemetry, metrics,
gRPC server bootstrap, error mapping and database sessions. Only what every process needs lives here."""
