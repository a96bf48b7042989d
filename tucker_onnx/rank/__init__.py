"""Stage 5b: choose Tucker ranks by measured latency under an accuracy-proxy budget."""
