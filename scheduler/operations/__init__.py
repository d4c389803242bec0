"""Use cases of running the service: the clock's jobs (lease, stalled events, notifications, daily
and profile recomputes) and the status figures."""
