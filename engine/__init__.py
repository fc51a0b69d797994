"""The pure, deterministic core: readings in, positions, zone events and alerts out (no I/O)."""
