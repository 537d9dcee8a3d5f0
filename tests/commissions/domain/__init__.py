"""Tests of the commissions domain core (pure: no database, no gRPC)."""
