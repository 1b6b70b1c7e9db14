"""The team profile: servers on loopback for local use and tests (``stack``)."""
