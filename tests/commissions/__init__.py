"""Tests of the commissions service."""
