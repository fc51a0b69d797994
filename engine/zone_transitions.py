"""The zone state machine's decision: the transition table and the hysteresis settings.

Hysteresis. For a fix with uncertainty u the threshold is h = margin_m + k_uncertainty*u.
The band of a zone is b = min(h, cap), cap = small_zone_fraction x the zone's inradius
(so that a zone smaller than the fixes' uncertainty can still be entered, and left). A
fix is clearly IN a zone when it is more than b inside the boundary, clearly OUT when
more than b outside, in the BAND otherwise, and OFF_LEVEL when it is on another level.
A pending transition (ENTERING, LEAVING) starts at the first clear fix and is
confirmed by a clear fix at least `dwell_s` later; any fix that is not clear in the
same direction cancels it. Zones of some kinds may have their own dwell and a tighter
band (`KindHysteresis`: a restricted zone should alert on the first fix inside it), and
an uncertainty limit: an entry confirmed by a fix less certain than `max_uncertainty_m`
must have held the engine's dwell, or `uncertain_dwell_s` (when longer than the kind's),
such a fix is inside no
zone of the kind at once (first fix, zone added), and a segment with such an end is no
`cross` of one.
A level change exits at once (the locator already applies level hysteresis). The
whole decision is the table `TRANSITIONS` below, compiled to lookup arrays applied to
every (student, zone) pair of a round at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from geometry.errors import ConfigError


class ZoneState(IntEnum):
    """Where a student stands with respect to one zone."""

    OUTSIDE = 0
    ENTERING = 1  # clearly inside, waiting for the dwell
    INSIDE = 2
    LEAVING = 3  # clearly outside, waiting for the dwell


class Observation(IntEnum):
    """What one fix says about one zone, after the margin and the uncertainty."""

    OUT = 0  # outside by more than the threshold
    BAND = 1  # within the threshold of the boundary: undecided
    IN = 2  # inside by more than the threshold
    OFF_LEVEL = 3  # the fix is on another level than the zone


class Emit(IntEnum):
    """What a transition emits."""

    NONE = 0
    ENTER = 1
    EXIT = 2


_S, _O, _E = ZoneState, Observation, Emit

#: (state, observation, dwell met) -> (next state, emitted). "Dwell met": for a pending
#: state, the time since the pending transition began is at least dwell_s; for a settled
#: state, dwell_s <= 0 (a transition would be confirmed by this very fix).
TRANSITIONS: Mapping[tuple[ZoneState, Observation, bool], tuple[ZoneState, Emit]] = {
    # OUTSIDE: a clear inside fix starts an entry (or is one, without dwell)
    (_S.OUTSIDE, _O.OUT, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.OUT, True): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.BAND, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.BAND, True): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.IN, False): (_S.ENTERING, _E.NONE),
    (_S.OUTSIDE, _O.IN, True): (_S.INSIDE, _E.ENTER),
    (_S.OUTSIDE, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.NONE),
    # ENTERING: confirmed by a clear inside fix after the dwell; anything else cancels
    (_S.ENTERING, _O.OUT, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.OUT, True): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.BAND, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.BAND, True): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.IN, False): (_S.ENTERING, _E.NONE),
    (_S.ENTERING, _O.IN, True): (_S.INSIDE, _E.ENTER),
    (_S.ENTERING, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.NONE),
    # INSIDE: a clear outside fix starts an exit (or is one); a level change exits at once
    (_S.INSIDE, _O.OUT, False): (_S.LEAVING, _E.NONE),
    (_S.INSIDE, _O.OUT, True): (_S.OUTSIDE, _E.EXIT),
    (_S.INSIDE, _O.BAND, False): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.BAND, True): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.IN, False): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.IN, True): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.EXIT),
    (_S.INSIDE, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.EXIT),
    # LEAVING: confirmed by a clear outside fix after the dwell; anything else cancels
    (_S.LEAVING, _O.OUT, False): (_S.LEAVING, _E.NONE),
    (_S.LEAVING, _O.OUT, True): (_S.OUTSIDE, _E.EXIT),
    (_S.LEAVING, _O.BAND, False): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.BAND, True): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.IN, False): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.IN, True): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.EXIT),
    (_S.LEAVING, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.EXIT),
}


def _compile_table() -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """TRANSITIONS as two lookup arrays [state, observation, dwell_met]."""
    nxt = np.full((4, 4, 2), -1, np.int8)
    emit = np.full((4, 4, 2), -1, np.int8)
    for (state, obs, dwell), (to, what) in TRANSITIONS.items():
        nxt[state, obs, int(dwell)] = to
        emit[state, obs, int(dwell)] = what
    if (nxt < 0).any():
        raise AssertionError("TRANSITIONS must cover every (state, observation, dwell)")
    return nxt, emit


#: TRANSITIONS as lookup arrays [state, observation, dwell met]: next state, emitted.
NEXT, EMIT = _compile_table()
#: Whether a ZoneState is a pending transition (waits for the dwell), by state.
PENDING = np.array([False, True, False, True])


@dataclass(frozen=True, slots=True)
class KindHysteresis:
    """The dwell, largest band and uncertainty limit of zones of some kinds (overriding
    `Hysteresis`)."""

    kinds: frozenset[str]
    dwell_s: float
    band_m: float = math.inf  # the band of these zones is at most this (and their cap)
    # An entry confirmed by a fix whose uncertainty radius is larger needs the engine's
    # dwell: the cap keeps the band within a small zone, so without a limit a fix pulled
    # in from outside enters as fast as a confident one; with it, not never (a badge
    # unlike the surveyed one, or an uncalibrated site, still alerts, later).
    max_uncertainty_m: float = math.inf
    # The dwell of such an entry when longer than the engine's (None: the engine's). A kind
    # whose rule waits minutes anyway (a staff room) can ask a fix pulled in from the path
    # outside to hold there for many seconds, not blink in.
    uncertain_dwell_s: float | None = None

    def __post_init__(self) -> None:
        slow = 0.0 if self.uncertain_dwell_s is None else self.uncertain_dwell_s
        limits = (self.dwell_s, self.band_m, self.max_uncertainty_m, slow)
        if not (self.kinds and min(limits) >= 0):
            raise ConfigError(
                f"hysteresis for kinds {sorted(self.kinds)}: dwell_s = {self.dwell_s!r}, "
                f"band_m = {self.band_m!r}, max_uncertainty_m = {self.max_uncertainty_m!r}, "
                f"uncertain_dwell_s = {self.uncertain_dwell_s!r}; "
                "name at least one kind, use numbers >= 0"
            )


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """How sure a fix must be before a zone transition counts, and badge silence limits."""

    margin_m: float = 0.5  # fixed distance past the boundary
    k_uncertainty: float = 1.5  # plus this many times the fix's uncertainty
    dwell_s: float = 3.0  # a pending transition must hold this long
    small_zone_fraction: float = 0.5  # entry threshold <= this x the zone's inradius
    stale_s: float = 30.0  # silent this long: `stale`
    lost_s: float = 120.0  # silent this long: `lost`
    tolerance_s: float = 0.5  # rows this much older than the newest are still accepted
    by_kind: tuple[KindHysteresis, ...] = ()  # the first that names a zone's kind wins

    def for_kind(self, kind: str) -> KindHysteresis:
        """The dwell, largest band and uncertainty limit of a zone of this kind (inf: no
        limit)."""
        for override in self.by_kind:
            if kind in override.kinds:
                return override
        return KindHysteresis(frozenset({kind}), self.dwell_s)

    def __post_init__(self) -> None:
        checks = {
            "margin_m": self.margin_m >= 0,
            "k_uncertainty": self.k_uncertainty >= 0,
            "dwell_s": self.dwell_s >= 0,
            "small_zone_fraction": 0 < self.small_zone_fraction <= 1,
            "stale_s": self.stale_s > 0,
            "lost_s": self.lost_s >= self.stale_s,
            "tolerance_s": self.tolerance_s >= 0,
        }
        for key, ok in checks.items():
            value = getattr(self, key)
            if not (ok and math.isfinite(value)):
                raise ConfigError(
                    f"hysteresis: {key} = {value!r} is invalid; use a finite number "
                    "(>= 0; small_zone_fraction in (0, 1]; lost_s >= stale_s > 0)"
                )
