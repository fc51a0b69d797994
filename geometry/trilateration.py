"""Trilateration: RSSI from a few readers -> x, y and an uncertainty radius, in batches.

The model is the log-distance path loss of `geometry.model.ReaderCalibration`:

    rssi_i = rssi_1m_i - 10 * n_i * log10(d_i) + noise,   noise ~ N(0, sigma_i^2)
    d_i    = sqrt((x - x_i)^2 + (y - y_i)^2 + (z_i - tag_height)^2)

Each fix minimises the weighted RSSI-domain residuals (the maximum-likelihood choice for
Gaussian noise in dB, the model's own noise):

    chi2(x, y) = sum_i (rssi_i - rssi_1m_i + 10 n_i log10(d_i))^2 / sigma_i^2

with Newton steps on the full 2x2 Hessian where it is positive definite (Gauss-Newton's
J^T W J elsewhere) under Levenberg-Marquardt damping, every trial point projected into
the site's bounding box (an active set holds a coordinate on a wall it is pushed into).
A step that would raise chi2 is refused and the damping jumps to at least 1 (x10 after
that: the usual x10 from 1e-3 wastes passes on steps that barely change); an accepted
step divides it by 10. A step costs one pass over the readers (one log and one division
each; the log inline, see `_ln`, not a libm call); the 2x2 system is solved in closed
form. The start is the tracker's guess when given, else the weighted centroid of the
readers (weights 1 / r_i^2, r_i the range the model reads from rssi_i), which is close
enough that 3 to 5 steps usually converge.

Status of each fix (`Fixes.status`):

- `FIX_OK`: the least-squares fit. `uncertainty` = sqrt(trace((J^T W J)^-1) * s), the
  1-sigma radius of the fit covariance, with s = max(1, chi2 / (m - 2)) when the m
  readers over-determine the fix: the reduced chi-square only ever widens the radius
  (residuals larger than the noise model say the model is off), it never narrows it
  below what the calibrated noise allows.
- `FIX_CENTROID`: fewer usable readers than `min_readers` (and at least one): the
  weighted centroid, uncertainty max(5 m, weighted spread of the readers about it + the
  horizontal range of the strongest reader).
- `FIX_NONE`: no usable reader. x, y are the centre of `bounds` (never NaN: a finite
  sentinel keeps every downstream array finite) and uncertainty the half-diagonal of
  `bounds` (the tag is somewhere on the site). Callers must key on the status.
- `FIX_DIVERGED`: the fit produced a non-finite value: the weighted centroid, as for
  `FIX_CENTROID`.

A reading is usable when its anchor, rssi and calibration are finite, `exponent > 0`
and `sigma_db > 0`; others are skipped (they are not counted as readers). Every output
is finite; x, y always lie inside `bounds`. The uncertainty is capped at the larger of
5 m and the diagonal of `bounds`.

Determinism: the kernels use `fastmath` with contraction (FMA), reciprocal and
approximate-function flags but without `nnan`/`ninf` (the finiteness checks must stay)
and without `reassoc` (sums stay in reader order). The same input on the same machine
gives the same output bit for bit; another CPU may differ in the last ulp (FMA).
The serial and parallel kernels run the same per-fix code, and so agree as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, prange, types
from numba.extending import intrinsic

from geometry.errors import InputError

FIX_OK = 0
FIX_CENTROID = 1
FIX_NONE = 2
FIX_DIVERGED = 3

#: Smallest uncertainty radius of a centroid fix, m.
CENTROID_MIN_UNCERTAINTY = 5.0
#: Squared distances are floored here (m^2): a tag 1 cm from a reader, never log(0).
D2_MIN = 1e-4
#: A step shorter than this (m) ends the iterations (Newton converges quadratically: the
#: fix is then within a fraction of a millimetre of the minimum).
DEFAULT_TOL = 1e-2
#: An undamped Newton step up to this many times `tol` also ends the iterations.
NEWTON_TOL_FACTOR = 3.0

_LN10 = math.log(10.0)
# Flags chosen for determinism (see the module docstring).
_FASTMATH = {"contract", "arcp", "afn", "nsz"}

#: Scratch columns per reader: x, y, dz^2, c = rssi - rssi_1m, a = 5 n / ln 10, w = 1/sigma^2,
#: ln of the centroid weight (c / a), the centroid weight; then d^2 and ln d^2 at the point.
_S = 10


@intrinsic
def _f2i(typingctx, x):  # type: ignore[no-untyped-def]
    """The bits of a float64 as an int64 (a register move: no memory, no call)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _i2f(typingctx, x):  # type: ignore[no-untyped-def]
    """An int64's bits as a float64."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_LOG_BITS = 7
# The centres c of the 2^7 cells of the mantissa range [1, 2): 1 / c and ln c.
_LOG_C = 1.0 + (np.arange(2**_LOG_BITS) + 0.5) / 2**_LOG_BITS
_LOG_INVC = 1.0 / _LOG_C
_LOG_LNC = np.log(_LOG_C)
_LN2 = math.log(2.0)
#: Above this, `_ln` hands over to libm (inf and NaN keep their libm results).
_LN_MAX_ARG = 1e300


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _ln(v: float) -> float:
    """ln v, error < 2e-13 absolute for v >= 1e-300: ln 2^e + ln c + log1p(mant / c - 1).

    Inline (no libm call, no division): the cell's 1 / c brings mant / c - 1 within
    +-2^-8, where a degree-5 Taylor polynomial of log1p is exact to 1e-15. Callers pass
    v >= D2_MIN; v above 1e300, inf and NaN go to libm.
    """
    if not v <= _LN_MAX_ARG:
        return math.log(v)
    b: int = _f2i(v)  # type: ignore[call-arg]
    e = (b >> 52) - 1023
    j = (b >> (52 - _LOG_BITS)) & ((1 << _LOG_BITS) - 1)
    mant: float = _i2f((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    r = mant * _LOG_INVC[j] - 1.0
    r2 = r * r
    p = r - 0.5 * r2 + r2 * r * (1.0 / 3.0 - 0.25 * r + 0.2 * r2)
    return e * _LN2 + _LOG_LNC[j] + p


_EXP_BITS = 6
# 2^(j / 64), j = 0..63.
_EXP_TAB = 2.0 ** (np.arange(2**_EXP_BITS) / 2**_EXP_BITS)
_LOG2E = 1.0 / math.log(2.0)
#: ln 2 - _LN2 (the float's rounding error): r keeps full precision for large |v|.
_LN2_LO = 2.3190468138462996e-17
#: 1.5 * 2^52: adding and subtracting it rounds a float of magnitude < 2^51 to an integer.
_ROUND = 6755399441055744.0


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _exp_neg(v: float) -> float:
    """exp v for finite v <= 0 (v below -700 counts as -700), relative error < 1e-15.

    Inline, like `_ln`: v = (64 e + j) ln 2 / 64 + r with |r| <= ln 2 / 128, so exp v =
    2^e 2^(j/64) exp r, exp r a degree-5 Taylor polynomial.
    """
    if v < -700.0:
        v = -700.0
    kf = (v * (_LOG2E * 64.0) + _ROUND) - _ROUND  # no `reassoc` flag: not folded away
    k = int(kf)
    r = (v - kf * (_LN2 / 64.0)) - kf * (_LN2_LO / 64.0)
    j = k & 63
    e = k >> 6  # floor: k = 64 e + j also for k < 0
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))))
    scale: float = _i2f((e + 1023) << 52)  # type: ignore[call-arg]  # 2^e
    return _EXP_TAB[j] * p * scale


@dataclass(frozen=True, slots=True)
class Fixes:
    """One fix per row: x, y (m), uncertainty (m, ~1-sigma radius), status, iterations."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    uncertainty: npt.NDArray[np.float64]
    status: npt.NDArray[np.int8]
    iterations: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.x)


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _clamp(v: float, lo: float, hi: float) -> float:
    """v inside [lo, hi]; NaN goes to lo (the caller never feeds NaN on purpose)."""
    if v > hi:
        return hi
    if v >= lo:
        return v
    return lo


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _pack(
    anchors: np.ndarray,
    rssi: np.ndarray,
    cnt: int,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    i: int,
    tag_height: float,
    scratch: np.ndarray,
) -> int:
    """Copy the usable readings of row i into scratch (derived constants); their number."""
    m = 0
    for k in range(cnt):
        ax = anchors[i, k, 0]
        ay = anchors[i, k, 1]
        dz = anchors[i, k, 2] - tag_height
        c = rssi[i, k] - rssi_1m[i, k]
        n = exponent[i, k]
        s = sigma_db[i, k]
        # v - v is 0 for finite v, NaN for inf and NaN: one test for all six (no `nnan`
        # or `ninf` in the flags, so the compiler keeps it).
        fin = (ax - ax) + (ay - ay) + (dz - dz) + (c - c) + (n - n) + (s - s)
        if not (fin == 0.0 and n > 0.0 and s > 0.0):
            continue
        # rssi - model = c + 10 n log10(d) = c + (5 n / ln 10) ln(d^2)
        a = 5.0 * n / _LN10
        w = 1.0 / (s * s)
        lw = c / a  # ln of the centroid weight 1 / r^2 (r: the range the model reads)
        dz2 = dz * dz
        fin = (a - a) + (w - w) + (lw - lw) + (dz2 - dz2)
        if not (fin == 0.0 and a > 0.0 and w > 0.0):
            continue
        scratch[m, 0] = ax
        scratch[m, 1] = ay
        scratch[m, 2] = dz2
        scratch[m, 3] = c
        scratch[m, 4] = a
        scratch[m, 5] = w
        scratch[m, 6] = lw
        m += 1
    return m


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _centroid(scratch: np.ndarray, m: int) -> tuple[float, float, float, int, bool]:
    """Weighted centroid (weights 1/r^2), the largest log-weight, its reader; ok flag."""
    # Weights exp(lw - lmax): shifted by the largest so the exponentials never overflow
    # (inline exp: the sums stay in registers).
    lmax = -np.inf
    kbest = 0
    for k in range(m):
        lw = scratch[k, 6]
        if lw > lmax:
            lmax = lw
            kbest = k
    if not math.isfinite(lmax):
        return 0.0, 0.0, 0.0, 0, False
    sw = 0.0
    sx = 0.0
    sy = 0.0
    for k in range(m):
        w = _exp_neg(scratch[k, 6] - lmax)
        scratch[k, 7] = w
        sw += w
        sx += w * scratch[k, 0]
        sy += w * scratch[k, 1]
    cx = sx / sw
    cy = sy / sw
    ok = math.isfinite(cx) and math.isfinite(cy)
    return cx, cy, lmax, kbest, ok


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _centroid_radius(
    scratch: np.ndarray, m: int, cx: float, cy: float, lmax: float, kbest: int
) -> float:
    """Radius of a centroid fix: max(5 m, weighted spread + the strongest's horizontal range).

    Only fallbacks need it, so it is computed only for them.
    """
    sw = 0.0
    spread = 0.0
    for k in range(m):
        ddx = scratch[k, 0] - cx
        ddy = scratch[k, 1] - cy
        sw += scratch[k, 7]
        spread += scratch[k, 7] * (ddx * ddx + ddy * ddy)
    spread = math.sqrt(spread / sw)
    # Horizontal range of the strongest reader: r^2 = exp(-lw), less the height part.
    r2 = math.exp(min(-lmax, 700.0))
    rh = math.sqrt(max(r2 - scratch[kbest, 2], 0.0))
    return max(CENTROID_MIN_UNCERTAINTY, spread + rh)


#: What `_normal` returns: chi2, g (2), J^T W J (00, 01, 11), the full Hessian (00, 01, 11).
_NormalEquations = tuple[float, float, float, float, float, float, float, float, float]


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _normal(scratch: np.ndarray, m: int, x: float, y: float) -> _NormalEquations:
    """At (x, y), one pass over the readers: chi2, g = J^T W r, J^T W J and the full Hessian.

    The full Hessian (half of chi2's) adds sum w r grad^2 r to J^T W J: with residuals as
    large as RSSI noise makes them, Gauss-Newton alone overshoots and oscillates.
    """
    chi2 = 0.0
    g0 = 0.0
    g1 = 0.0
    h00 = 0.0
    h01 = 0.0
    h11 = 0.0
    q00 = 0.0
    q01 = 0.0
    q11 = 0.0
    # The logs first, in a loop of their own: a call inside the accumulation loop would
    # spill its nine running sums around every call.
    for k in range(m):
        dx = x - scratch[k, 0]
        dy = y - scratch[k, 1]
        d2 = dx * dx + dy * dy + scratch[k, 2]
        if d2 < D2_MIN:
            d2 = D2_MIN
        scratch[k, 8] = d2
        scratch[k, 9] = _ln(d2)
    swrf = 0.0
    for k in range(m):
        dx = x - scratch[k, 0]
        dy = y - scratch[k, 1]
        d2 = scratch[k, 8]
        a = scratch[k, 4]
        w = scratch[k, 5]
        r = scratch[k, 3] + a * scratch[k, 9]
        # d r / dx = f dx with f = 2 a / d2;  d2 r / dx2 = f (1 - 2 dx^2 / d2);
        # d2 r / dx dy = -2 f dx dy / d2: one division per reader. With u = w f^2 and
        # v = 2 w r f / d2, J^T W J = sum u (dx, dy)^T (dx, dy) and the full Hessian
        # = sum (u - v) (dx, dy)^T (dx, dy) + sum w r f I.
        inv = 1.0 / d2
        f = 2.0 * a * inv
        wr = w * r
        wrf = wr * f
        u = w * f * f
        uv = u - 2.0 * wrf * inv
        xx = dx * dx
        xy = dx * dy
        yy = dy * dy
        chi2 += wr * r
        g0 += wrf * dx
        g1 += wrf * dy
        swrf += wrf
        h00 += u * xx
        h01 += u * xy
        h11 += u * yy
        q00 += uv * xx
        q01 += uv * xy
        q11 += uv * yy
    return chi2, g0, g1, h00, h01, h11, q00 + swrf, q01, q11 + swrf


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _site_diagonal(bounds: tuple[float, float, float, float]) -> float:
    """The diagonal of the site's bounding box, m."""
    wdx = bounds[2] - bounds[0]
    wdy = bounds[3] - bounds[1]
    return math.sqrt(wdx * wdx + wdy * wdy)


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _fallback(
    scratch: np.ndarray,
    m: int,
    cx: float,
    cy: float,
    lmax: float,
    kbest: int,
    cok: bool,
    bounds: tuple[float, float, float, float],
) -> tuple[float, float, float]:
    """x, y, radius of a centroid fix, inside the bounds, radius capped."""
    cap = max(CENTROID_MIN_UNCERTAINTY, _site_diagonal(bounds))
    if not cok:
        # Only absurd inputs get here (e.g. a huge anchor): the strongest reader's place.
        x = _clamp(scratch[0, 0], bounds[0], bounds[2])
        y = _clamp(scratch[0, 1], bounds[1], bounds[3])
        return x, y, cap
    u = _centroid_radius(scratch, m, cx, cy, lmax, kbest)
    if not u < cap:
        u = cap
    return _clamp(cx, bounds[0], bounds[2]), _clamp(cy, bounds[1], bounds[3]), u


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _start_point(
    centroid_x: float,
    centroid_y: float,
    centroid_ok: bool,
    guess_x: float,
    guess_y: float,
    bounds: tuple[float, float, float, float],
) -> tuple[float, float]:
    """Where the fit starts, inside the bounds: the tracker's guess when finite (NaN: no
    guess), else the weighted centroid (else the site's centre)."""
    xmin, ymin, xmax, ymax = bounds
    x = _clamp(centroid_x, xmin, xmax) if centroid_ok else 0.5 * (xmin + xmax)
    y = _clamp(centroid_y, ymin, ymax) if centroid_ok else 0.5 * (ymin + ymax)
    if math.isfinite(guess_x) and math.isfinite(guess_y):
        x = _clamp(guess_x, xmin, xmax)
        y = _clamp(guess_y, ymin, ymax)
    return x, y


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _damped_step(
    normal: _NormalEquations,
    damping: float,
    x: float,
    y: float,
    bounds: tuple[float, float, float, float],
) -> tuple[bool, bool, float, float]:
    """One Levenberg-Marquardt step from (x, y): (stuck, newton, step x, step y).

    Newton on the full Hessian where it is positive definite (quadratic convergence),
    Gauss-Newton's J^T W J elsewhere (`newton` says which); (H + damping diag(H)) step
    = -g, in closed form. `stuck`: no step can lower chi2 inside the bounds.
    """
    _, g0, g1, h00, h01, h11, f00, f01, f11 = normal
    newton = f00 > 0.0 and f11 > 0.0 and f00 * f11 - f01 * f01 > 0.0
    if newton:
        b00 = f00
        b01 = f01
        b11 = f11
    else:
        b00 = h00
        b01 = h01
        b11 = h11
    a00 = b00 * (1.0 + damping) + 1e-12
    a11 = b11 * (1.0 + damping) + 1e-12
    # A coordinate held at a bound that chi2 pushes outwards stays there (an active
    # set; projecting the full step instead zig-zags along the wall).
    fix_x = (x <= bounds[0] and g0 > 0.0) or (x >= bounds[2] and g0 < 0.0)
    fix_y = (y <= bounds[1] and g1 > 0.0) or (y >= bounds[3] and g1 < 0.0)
    if fix_x and fix_y:
        return True, newton, 0.0, 0.0
    if fix_x:
        return False, newton, 0.0, -g1 / a11
    if fix_y:
        return False, newton, -g0 / a00, 0.0
    det = a00 * a11 - b01 * b01
    if not det > 0.0:
        return True, newton, 0.0, 0.0
    inv = 1.0 / det
    return False, newton, -(a11 * g0 - b01 * g1) * inv, -(a00 * g1 - b01 * g0) * inv


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _minimise(
    scratch: np.ndarray,
    m: int,
    x: float,
    y: float,
    bounds: tuple[float, float, float, float],
    max_iter: int,
    tol: float,
) -> tuple[float, float, _NormalEquations, int]:
    """Damped Newton from (x, y) within the bounds: x, y, the normal equations there
    (`_normal`), the steps taken."""
    xmin, ymin, xmax, ymax = bounds
    normal = _normal(scratch, m, x, y)
    damping = 1e-3
    it = 0
    while it < max_iter:
        it += 1
        stuck, newton, sx, sy = _damped_step(normal, damping, x, y, bounds)
        if stuck:
            break
        nx = _clamp(x + sx, xmin, xmax)
        ny = _clamp(y + sy, ymin, ymax)
        # Converged when the step is short: take it without paying for another pass. An
        # (almost) undamped Newton step may be NEWTON_TOL_FACTOR x longer: what is left
        # after it shrinks like its square.
        lim = tol * NEWTON_TOL_FACTOR if (newton and damping < 1e-2) else tol
        if (nx - x) * (nx - x) + (ny - y) * (ny - y) < lim * lim:
            x = nx
            y = ny
            break
        trial = _normal(scratch, m, nx, ny)
        if trial[0] <= normal[0]:
            step2 = (nx - x) * (nx - x) + (ny - y) * (ny - y)
            x = nx
            y = ny
            normal = trial
            damping = max(damping * 0.1, 1e-9)
            if step2 < tol * tol:
                break
        else:
            # Refused: damp hard at once (x10 from 1e-3 would waste passes).
            damping = max(damping * 10.0, 1.0)
            if damping > 1e8:
                break
    return x, y, normal, it


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _fit_radius(chi2: float, h00: float, h01: float, h11: float, m: int, cap: float) -> float:
    """Radius of a least-squares fix: sqrt(trace((J^T W J)^-1) * max(1, reduced chi2)),
    at most `cap`."""
    det = h00 * h11 - h01 * h01
    u = cap
    if det > 0.0:
        trace = (h00 + h11) / det
        scale = 1.0
        if m > 2:
            scale = max(1.0, chi2 / (m - 2))
        u2 = trace * scale
        if u2 < cap * cap:
            u = math.sqrt(u2)
    return u


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _solve_row(
    anchors: np.ndarray,
    rssi: np.ndarray,
    count: np.ndarray,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    i: int,
    tag_height: float,
    bounds: tuple[float, float, float, float],
    x0: np.ndarray,
    use_x0: bool,
    max_iter: int,
    min_readers: int,
    tol: float,
    scratch: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_u: np.ndarray,
    out_status: np.ndarray,
    out_iter: np.ndarray,
) -> None:
    """Solve row i and write its fix."""
    diag = _site_diagonal(bounds)
    cnt = count[i]
    if cnt > anchors.shape[1]:
        cnt = anchors.shape[1]
    m = _pack(anchors, rssi, cnt, rssi_1m, exponent, sigma_db, i, tag_height, scratch)
    out_iter[i] = 0
    if m == 0:
        out_x[i] = 0.5 * (bounds[0] + bounds[2])
        out_y[i] = 0.5 * (bounds[1] + bounds[3])
        out_u[i] = 0.5 * diag
        out_status[i] = FIX_NONE
        return
    cx, cy, lmax, kbest, cok = _centroid(scratch, m)
    if m < min_readers or m < 2:
        out_x[i], out_y[i], out_u[i] = _fallback(scratch, m, cx, cy, lmax, kbest, cok, bounds)
        out_status[i] = FIX_CENTROID
        return
    guess_x = x0[i, 0] if use_x0 else np.nan
    guess_y = x0[i, 1] if use_x0 else np.nan
    x, y = _start_point(cx, cy, cok, guess_x, guess_y, bounds)
    x, y, normal, it = _minimise(scratch, m, x, y, bounds, max_iter, tol)
    chi2, _, _, h00, h01, h11, _, _, _ = normal
    out_iter[i] = it
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(chi2)):
        out_x[i], out_y[i], out_u[i] = _fallback(scratch, m, cx, cy, lmax, kbest, cok, bounds)
        out_status[i] = FIX_DIVERGED
        return
    out_x[i] = x
    out_y[i] = y
    out_u[i] = _fit_radius(chi2, h00, h01, h11, m, max(CENTROID_MIN_UNCERTAINTY, diag))
    out_status[i] = FIX_OK


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH)
def _kernel_serial(
    anchors: np.ndarray,
    rssi: np.ndarray,
    count: np.ndarray,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    tag_height: float,
    bounds: np.ndarray,
    x0: np.ndarray,
    use_x0: bool,
    max_iter: int,
    min_readers: int,
    tol: float,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_u: np.ndarray,
    out_status: np.ndarray,
    out_iter: np.ndarray,
) -> None:
    """Every row, one core."""
    # The bounds as four scalars: loads from an array the output stores might alias would
    # be repeated for every row.
    box = (bounds[0], bounds[1], bounds[2], bounds[3])
    scratch = np.empty((max(anchors.shape[1], 1), _S))
    for i in range(anchors.shape[0]):
        _solve_row(
            anchors, rssi, count, rssi_1m, exponent, sigma_db, i, tag_height, box,
            x0, use_x0, max_iter, min_readers, tol, scratch,
            out_x, out_y, out_u, out_status, out_iter,
        )  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, parallel=True)
def _kernel_parallel(
    anchors: np.ndarray,
    rssi: np.ndarray,
    count: np.ndarray,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    tag_height: float,
    bounds: np.ndarray,
    x0: np.ndarray,
    use_x0: bool,
    max_iter: int,
    min_readers: int,
    tol: float,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_u: np.ndarray,
    out_status: np.ndarray,
    out_iter: np.ndarray,
) -> None:
    """Every row, chunks spread over the cores (one scratch per chunk)."""
    box = (bounds[0], bounds[1], bounds[2], bounds[3])  # as in the serial kernel
    n = anchors.shape[0]
    chunk = 4096
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        scratch = np.empty((max(anchors.shape[1], 1), _S))
        stop = min(n, (c + 1) * chunk)
        for i in range(c * chunk, stop):
            _solve_row(
                anchors, rssi, count, rssi_1m, exponent, sigma_db, i, tag_height, box,
                x0, use_x0, max_iter, min_readers, tol, scratch,
                out_x, out_y, out_u, out_status, out_iter,
            )  # fmt: skip


def _as_rows(name: str, a: npt.ArrayLike, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """A C-contiguous float64 array of `shape` (broadcast from a scalar or a row)."""
    if (
        isinstance(a, np.ndarray)
        and a.dtype == np.float64
        and a.shape == shape
        and a.flags.c_contiguous
    ):
        return a  # already what the kernel takes: no copy, no broadcast
    arr = np.asarray(a, dtype=np.float64)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError as exc:
        raise InputError(
            f"trilaterate: {name} has shape {np.shape(a)}, expected {shape}; "
            "pass one value per row and reader column"
        ) from exc
    return np.ascontiguousarray(arr)


def trilaterate(
    anchors: npt.ArrayLike,
    rssi: npt.ArrayLike,
    count: npt.ArrayLike,
    rssi_1m: npt.ArrayLike,
    exponent: npt.ArrayLike,
    sigma_db: npt.ArrayLike,
    *,
    tag_height: float = 1.0,
    bounds: tuple[float, float, float, float],
    x0: npt.ArrayLike | None = None,
    max_iter: int = 8,
    min_readers: int = 3,
    tol: float = DEFAULT_TOL,
    parallel: bool = False,
) -> Fixes:
    """Fixes for n rows of up to K readings each (see the module docstring).

    anchors (n, K, 3): reader x, y, z (z above the floor); rssi (n, K) dBm; count (n,):
    usable columns, packed first; rssi_1m, exponent, sigma_db (n, K) (or broadcastable).
    bounds (xmin, ymin, xmax, ymax); x0 (n, 2) optional start (NaN rows: the centroid).
    `parallel=True` spreads the rows over the cores (same results).
    """
    anc = np.ascontiguousarray(anchors, dtype=np.float64)
    if anc.ndim != 3 or anc.shape[2] != 3:
        raise InputError(
            f"trilaterate: anchors must have shape (n, K, 3) (x, y, z), got {anc.shape}"
        )
    n, K = anc.shape[0], anc.shape[1]
    rs = _as_rows("rssi", rssi, (n, K))
    p0 = _as_rows("rssi_1m", rssi_1m, (n, K))
    ex = _as_rows("exponent", exponent, (n, K))
    sg = _as_rows("sigma_db", sigma_db, (n, K))
    cnt = np.asarray(count)
    if cnt.shape != (n,):
        raise InputError(f"trilaterate: count must have shape ({n},), got {cnt.shape}")
    if cnt.dtype not in (np.int32, np.int64):
        cnt = cnt.astype(np.int64)  # the kernel clamps to 0..K itself
    cnt = np.ascontiguousarray(cnt)
    b = np.asarray(bounds, dtype=np.float64)
    if b.shape != (4,) or not np.isfinite(b).all() or b[0] > b[2] or b[1] > b[3]:
        raise InputError(
            f"trilaterate: bounds must be finite (xmin, ymin, xmax, ymax) with min <= max, "
            f"got {bounds}"
        )
    if not math.isfinite(tag_height):
        raise InputError(f"trilaterate: tag_height must be finite, got {tag_height}")
    if max_iter < 0 or max_iter > 1000:
        raise InputError(f"trilaterate: max_iter must be in 0..1000, got {max_iter}")
    if not tol > 0:
        raise InputError(f"trilaterate: tol must be > 0 m, got {tol}")
    if x0 is None:
        guess = np.zeros((1, 2))  # never read
        use_x0 = False
    else:
        guess = np.ascontiguousarray(x0, dtype=np.float64)
        if guess.shape != (n, 2):
            raise InputError(f"trilaterate: x0 must have shape ({n}, 2), got {guess.shape}")
        use_x0 = True
    out_x = np.empty(n)
    out_y = np.empty(n)
    out_u = np.empty(n)
    out_status = np.empty(n, np.int8)
    out_iter = np.empty(n, np.int16)
    kernel = _kernel_parallel if parallel else _kernel_serial
    kernel(
        anc, rs, cnt, p0, ex, sg, float(tag_height), b, guess, use_x0, int(max_iter),
        int(min_readers), float(tol), out_x, out_y, out_u, out_status, out_iter,
    )  # fmt: skip
    return Fixes(out_x, out_y, out_u, out_status, out_iter)
