"""Numbers given on the command line, checked against the range each option documents."""

from __future__ import annotations

import math

from geometry.errors import InputError


def in_range(value: float, option: str, low: float, high: float, unit: str = "s") -> float:
    """`value` when finite and within [low, high], else an InputError naming the option."""
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(
            f"{option} must be a number from {low:g} to {high:g} {unit}, got {value!r}. "
            f"Fix: give {option} a value in that range"
        )
    return float(value)
