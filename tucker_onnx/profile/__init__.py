"""Stage 5a: measure where the time goes (model latency, per-layer device time, reports)."""
