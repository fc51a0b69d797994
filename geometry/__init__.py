"""Floorplans, the local metric frame, zone lookup and the numba geometry kernels (no I/O)."""
