"""The `crm` command: one CLI for every role of the platform, and the local stack behind `crm up`."""
