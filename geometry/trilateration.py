"""Trilateration: RSSI from a few readers -> x, y and an uncertainty radius, in batches.

The model is the log-distance path loss of `geometry.model.ReaderCalibration`:

    rssi_i = rssi_1m_i - 10 * n_i * log10(d_i) + noise,   noise ~ N(0, sigma_i^2)
    d_i    = sqrt((x - x_i)^2 + (y - y_i)^2 + (z_i - tag_height)^2)

Each fix minimises the weighted RSSI-domain residuals (the maximum-likelihood choice for
Gaussian noise in dB, the model's own noise):

    chi2(x, y) = sum_i (rssi_i - rssi_1m_i + 10 n_i log10(d_i))^2 / sigma_i^2

with Levenberg-Marquardt (damped Gauss-Newton; the damping only grows when a step would
raise chi2), every trial point projected into the site's bounding box. A step costs one
pass over the readers (one log and one division each); the 2x2 normal equations are
solved in closed form. The start is the tracker's guess when given, else the weighted
centroid of the readers (weights 1 / r_i^2, r_i the range the model reads from rssi_i),
which is close enough that 3 to 5 steps usually converge.

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
from numba import njit, prange

from geometry.errors import InputError

FIX_OK = 0
FIX_CENTROID = 1
FIX_NONE = 2
FIX_DIVERGED = 3

#: Smallest uncertainty radius of a centroid fix, m.
CENTROID_MIN_UNCERTAINTY = 5.0
#: Squared distances are floored here (m^2): a tag 1 cm from a reader, never log(0).
D2_MIN = 1e-4
#: A step shorter than this (m) ends the iterations.
DEFAULT_TOL = 1e-3

_LN10 = math.log(10.0)
# Flags chosen for determinism (see the module docstring).
_FASTMATH = {"contract", "arcp", "afn", "nsz"}

#: Scratch columns per reader: x, y, dz^2, c = rssi - rssi_1m, a = 5 n / ln 10, w = 1/sigma^2,
#: 1/a, and the centroid weight.
_S = 8


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
        ok = (
            math.isfinite(ax)
            and math.isfinite(ay)
            and math.isfinite(dz)
            and math.isfinite(c)
            and math.isfinite(n)
            and math.isfinite(s)
            and n > 0.0
            and s > 0.0
        )
        if not ok:
            continue
        # rssi - model = c + 10 n log10(d) = c + (5 n / ln 10) ln(d^2)
        a = 5.0 * n / _LN10
        w = 1.0 / (s * s)
        inv_a = 1.0 / a
        dz2 = dz * dz
        if not (math.isfinite(a) and math.isfinite(w) and math.isfinite(inv_a)):
            continue
        if not (math.isfinite(dz2) and a > 0.0 and w > 0.0):
            continue
        scratch[m, 0] = ax
        scratch[m, 1] = ay
        scratch[m, 2] = dz2
        scratch[m, 3] = c
        scratch[m, 4] = a
        scratch[m, 5] = w
        scratch[m, 6] = inv_a
        m += 1
    return m


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _centroid(scratch: np.ndarray, m: int) -> tuple[float, float, float, bool]:
    """Weighted centroid (weights 1/r^2 from the model's range) and its radius; ok flag."""
    # log of the weight: -2 ln r = c / a (r = range the model reads from the rssi);
    # shifted by the largest so the exponentials never overflow.
    lmax = -np.inf
    kbest = 0
    for k in range(m):
        lw = scratch[k, 3] / scratch[k, 4]
        if lw > lmax:
            lmax = lw
            kbest = k
    if not math.isfinite(lmax):
        return 0.0, 0.0, 0.0, False
    sw = 0.0
    sx = 0.0
    sy = 0.0
    for k in range(m):
        w = math.exp(scratch[k, 3] / scratch[k, 4] - lmax)
        scratch[k, 7] = w
        sw += w
        sx += w * scratch[k, 0]
        sy += w * scratch[k, 1]
    cx = sx / sw
    cy = sy / sw
    spread = 0.0
    for k in range(m):
        ddx = scratch[k, 0] - cx
        ddy = scratch[k, 1] - cy
        spread += scratch[k, 7] * (ddx * ddx + ddy * ddy)
    spread = math.sqrt(spread / sw)
    # Horizontal range of the strongest reader: r^2 = exp(-lw), less the height part.
    r2 = math.exp(min(-lmax, 700.0))
    rh = math.sqrt(max(r2 - scratch[kbest, 2], 0.0))
    ok = math.isfinite(cx) and math.isfinite(cy)
    return cx, cy, max(CENTROID_MIN_UNCERTAINTY, spread + rh), ok


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _normal(
    scratch: np.ndarray, m: int, x: float, y: float
) -> tuple[float, float, float, float, float, float, float, float, float]:
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
    for k in range(m):
        dx = x - scratch[k, 0]
        dy = y - scratch[k, 1]
        d2 = dx * dx + dy * dy + scratch[k, 2]
        if d2 < D2_MIN:
            d2 = D2_MIN
        a = scratch[k, 4]
        w = scratch[k, 5]
        r = scratch[k, 3] + a * math.log(d2)
        # d r / d x = 2 a dx / d2;  d2 r / dx2 = f - jx^2 / a;  d2 r / dx dy = -jx jy / a
        f = 2.0 * a / d2
        jx = f * dx
        jy = f * dy
        wr = w * r
        chi2 += wr * r
        g0 += jx * wr
        g1 += jy * wr
        wjx = w * jx
        wjy = w * jy
        h00 += wjx * jx
        h01 += wjx * jy
        h11 += wjy * jy
        b = wr * scratch[k, 6]
        q00 += wr * f - b * jx * jx
        q01 -= b * jx * jy
        q11 += wr * f - b * jy * jy
    return chi2, g0, g1, h00, h01, h11, h00 + q00, h01 + q01, h11 + q11


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
    bounds: np.ndarray,
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
    xmin = bounds[0]
    ymin = bounds[1]
    xmax = bounds[2]
    ymax = bounds[3]
    wdx = xmax - xmin
    wdy = ymax - ymin
    diag = math.sqrt(wdx * wdx + wdy * wdy)
    cap = max(CENTROID_MIN_UNCERTAINTY, diag)
    cnt = count[i]
    if cnt > anchors.shape[1]:
        cnt = anchors.shape[1]
    m = _pack(anchors, rssi, cnt, rssi_1m, exponent, sigma_db, i, tag_height, scratch)
    out_iter[i] = 0
    if m == 0:
        out_x[i] = 0.5 * (xmin + xmax)
        out_y[i] = 0.5 * (ymin + ymax)
        out_u[i] = 0.5 * diag
        out_status[i] = FIX_NONE
        return
    cx, cy, cu, cok = _centroid(scratch, m)
    if not cok:
        # Only absurd inputs get here (e.g. a huge anchor): the strongest reader's place.
        cx = scratch[0, 0]
        cy = scratch[0, 1]
        cu = cap
    cx = _clamp(cx, xmin, xmax)
    cy = _clamp(cy, ymin, ymax)
    cu = min(cu, cap)
    if m < min_readers or m < 2:
        out_x[i] = cx
        out_y[i] = cy
        out_u[i] = cu
        out_status[i] = FIX_CENTROID
        return

    x = cx
    y = cy
    if use_x0:
        gx = x0[i, 0]
        gy = x0[i, 1]
        if math.isfinite(gx) and math.isfinite(gy):
            x = _clamp(gx, xmin, xmax)
            y = _clamp(gy, ymin, ymax)
    chi2, g0, g1, h00, h01, h11, f00, f01, f11 = _normal(scratch, m, x, y)
    lam = 1e-3
    it = 0
    while it < max_iter:
        it += 1
        # Newton on the full Hessian where it is positive definite (quadratic convergence),
        # Gauss-Newton's J^T W J elsewhere; Levenberg-Marquardt damping on top:
        # (H + lam diag(H)) step = -g, in closed form.
        if f00 > 0.0 and f11 > 0.0 and f00 * f11 - f01 * f01 > 0.0:
            b00 = f00
            b01 = f01
            b11 = f11
        else:
            b00 = h00
            b01 = h01
            b11 = h11
        a00 = b00 * (1.0 + lam) + 1e-12
        a11 = b11 * (1.0 + lam) + 1e-12
        # A coordinate held at a bound that chi2 pushes outwards stays there (an active
        # set; projecting the full step instead zig-zags along the wall).
        fix_x = (x <= xmin and g0 > 0.0) or (x >= xmax and g0 < 0.0)
        fix_y = (y <= ymin and g1 > 0.0) or (y >= ymax and g1 < 0.0)
        if fix_x and fix_y:
            break
        if fix_x:
            sx = 0.0
            sy = -g1 / a11
        elif fix_y:
            sx = -g0 / a00
            sy = 0.0
        else:
            det = a00 * a11 - b01 * b01
            if not det > 0.0:
                break
            inv = 1.0 / det
            sx = -(a11 * g0 - b01 * g1) * inv
            sy = -(a00 * g1 - b01 * g0) * inv
        nx = _clamp(x + sx, xmin, xmax)
        ny = _clamp(y + sy, ymin, ymax)
        if (nx - x) * (nx - x) + (ny - y) * (ny - y) < tol * tol:
            # Converged: take the last (tiny) step without paying for another pass.
            x = nx
            y = ny
            break
        nchi2, ng0, ng1, nh00, nh01, nh11, nf00, nf01, nf11 = _normal(scratch, m, nx, ny)
        if nchi2 <= chi2:
            step2 = (nx - x) * (nx - x) + (ny - y) * (ny - y)
            x = nx
            y = ny
            chi2, g0, g1, h00, h01, h11 = nchi2, ng0, ng1, nh00, nh01, nh11
            f00, f01, f11 = nf00, nf01, nf11
            lam = max(lam * 0.1, 1e-9)
            if step2 < tol * tol:
                break
        else:
            lam *= 10.0
            if lam > 1e8:
                break
    out_iter[i] = it
    ok = math.isfinite(x) and math.isfinite(y) and math.isfinite(chi2)
    if not ok:
        out_x[i] = cx
        out_y[i] = cy
        out_u[i] = cu
        out_status[i] = FIX_DIVERGED
        return
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
    out_x[i] = x
    out_y[i] = y
    out_u[i] = u
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
    scratch = np.empty((max(anchors.shape[1], 1), _S))
    for i in range(anchors.shape[0]):
        _solve_row(
            anchors, rssi, count, rssi_1m, exponent, sigma_db, i, tag_height, bounds,
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
    n = anchors.shape[0]
    chunk = 4096
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        scratch = np.empty((max(anchors.shape[1], 1), _S))
        stop = min(n, (c + 1) * chunk)
        for i in range(c * chunk, stop):
            _solve_row(
                anchors, rssi, count, rssi_1m, exponent, sigma_db, i, tag_height, bounds,
                x0, use_x0, max_iter, min_readers, tol, scratch,
                out_x, out_y, out_u, out_status, out_iter,
            )  # fmt: skip


# -- SIMD lanes ------------------------------------------------------------------------
#
# The fast path advances _L fixes together, structure of arrays: every per-reader array is
# (K * _L,) with the lane index fastest, so each inner loop runs over _L independent
# fixes and LLVM turns it into AVX-512 / AVX2 vector code. math.log has no vector form
# here (no SVML), so the log (and the centroid's exp) are polynomials on the bits of the
# float, accurate to ~6e-12 (log, absolute) and ~1e-12 (exp, relative): far below any
# RSSI noise, and the same for every lane, so a fix never depends on its neighbours.
# Lanes iterate until each has converged; a converged lane is frozen (its arithmetic
# continues but is discarded), so the fix of a row does not depend on the block it is in.

_L = 8
_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)
_LOG2E = 1.0 / math.log(2.0)
_MANT = 0x000FFFFFFFFFFFFF
_ONE = 0x3FF0000000000000
# ln(1 + t) = t * P(t) on t in [sqrt(1/2) - 1, sqrt(2) - 1]: a Chebyshev fit of degree 12
# (numpy.polynomial.chebyshev.chebfit of log1p(t)/t at 400 Chebyshev nodes, to monomials).
_LOG_P = (
    0.9999999999858776,
    -0.5000000002882303,
    0.33333334338468923,
    -0.24999994197384517,
    0.1999988075487083,
    -0.16666936656261375,
    0.14290995825583946,
    -0.12497648855372481,
    0.11005071510564382,
    -0.0992106334226728,
    0.10031801816190963,
    -0.09908107945296524,
    0.05372977862874123,
)
# exp(f) on f in [-ln2/2, ln2/2]: the same kind of fit, degree 9.
_EXP_P = (
    1.0000000000000124,
    1.0000000000000082,
    0.4999999999943977,
    0.16666666666538968,
    0.04166666704100289,
    0.008333333390490453,
    0.001388880166369774,
    0.0001984116424303475,
    2.4884501516735046e-05,
    2.7642671386774154e-06,
)


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _vlog(src: np.ndarray, n: int, ibuf: np.ndarray, fbuf: np.ndarray, out: np.ndarray) -> None:
    """out[:n] = ln(src[:n]) for positive normal floats; `fbuf` is `ibuf` viewed as float."""
    bits = src.view(np.int64)
    for j in range(n):
        ibuf[j] = (bits[j] & _MANT) | _ONE
    for j in range(n):
        e = float((bits[j] >> 52) - 1023)
        m = fbuf[j]
        if m > _SQRT2:
            m = m * 0.5
            e = e + 1.0
        t = m - 1.0
        p = _LOG_P[12]
        p = p * t + _LOG_P[11]
        p = p * t + _LOG_P[10]
        p = p * t + _LOG_P[9]
        p = p * t + _LOG_P[8]
        p = p * t + _LOG_P[7]
        p = p * t + _LOG_P[6]
        p = p * t + _LOG_P[5]
        p = p * t + _LOG_P[4]
        p = p * t + _LOG_P[3]
        p = p * t + _LOG_P[2]
        p = p * t + _LOG_P[1]
        p = p * t + _LOG_P[0]
        out[j] = e * _LN2 + t * p


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _vexp(src: np.ndarray, n: int, ibuf: np.ndarray, fbuf: np.ndarray, out: np.ndarray) -> None:
    """out[:n] = exp(src[:n]) for src in [-700, 0]; `fbuf` is `ibuf` viewed as float."""
    for j in range(n):
        kf = math.floor(src[j] * _LOG2E + 0.5)
        ibuf[j] = (np.int64(kf) + 1023) << 52
    for j in range(n):
        f = src[j] - math.floor(src[j] * _LOG2E + 0.5) * _LN2
        p = _EXP_P[9]
        p = p * f + _EXP_P[8]
        p = p * f + _EXP_P[7]
        p = p * f + _EXP_P[6]
        p = p * f + _EXP_P[5]
        p = p * f + _EXP_P[4]
        p = p * f + _EXP_P[3]
        p = p * f + _EXP_P[2]
        p = p * f + _EXP_P[1]
        p = p * f + _EXP_P[0]
        out[j] = p * fbuf[j]


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _eval_lanes(
    P: np.ndarray,
    kb: int,
    X: np.ndarray,
    Y: np.ndarray,
    T: np.ndarray,
    ibuf: np.ndarray,
    fbuf: np.ndarray,
    ACC: np.ndarray,
) -> None:
    """`_normal` for every lane at (X, Y) over the first kb reader columns, into ACC (9, L).

    P holds the per-reader constants, (8, K * L): x, y, dz^2, c, a, w, 1/a, weight.
    T is (2, K * L) scratch: squared distances, then their logs.
    """
    n = kb * _L
    # Row views of _L lanes per reader column: plain unit-stride loops that vectorise.
    for k in range(kb):
        lo = k * _L
        hi = lo + _L
        px = P[0, lo:hi]
        py = P[1, lo:hi]
        pz = P[2, lo:hi]
        t0 = T[0, lo:hi]
        for ln in range(_L):
            dx = X[ln] - px[ln]
            dy = Y[ln] - py[ln]
            d2 = dx * dx + dy * dy + pz[ln]
            t0[ln] = d2 if d2 > D2_MIN else D2_MIN
    _vlog(T[0], n, ibuf, fbuf, T[1])
    a0 = ACC[0]
    a1 = ACC[1]
    a2 = ACC[2]
    a3 = ACC[3]
    a4 = ACC[4]
    a5 = ACC[5]
    a6 = ACC[6]
    a7 = ACC[7]
    a8 = ACC[8]
    for ln in range(_L):
        a0[ln] = 0.0
        a1[ln] = 0.0
        a2[ln] = 0.0
        a3[ln] = 0.0
        a4[ln] = 0.0
        a5[ln] = 0.0
        a6[ln] = 0.0
        a7[ln] = 0.0
        a8[ln] = 0.0
    for k in range(kb):
        lo = k * _L
        hi = lo + _L
        px = P[0, lo:hi]
        py = P[1, lo:hi]
        pc = P[3, lo:hi]
        pa = P[4, lo:hi]
        pw = P[5, lo:hi]
        pia = P[6, lo:hi]
        t0 = T[0, lo:hi]
        t1 = T[1, lo:hi]
        for ln in range(_L):
            dx = X[ln] - px[ln]
            dy = Y[ln] - py[ln]
            a = pa[ln]
            w = pw[ln]
            r = pc[ln] + a * t1[ln]
            f = 2.0 * a / t0[ln]
            jx = f * dx
            jy = f * dy
            wr = w * r
            wjx = w * jx
            wjy = w * jy
            b = wr * pia[ln]
            a0[ln] += wr * r
            a1[ln] += jx * wr
            a2[ln] += jy * wr
            a3[ln] += wjx * jx
            a4[ln] += wjx * jy
            a5[ln] += wjy * jy
            a6[ln] += wjx * jx + wr * f - b * jx * jx
            a7[ln] += wjx * jy - b * jx * jy
            a8[ln] += wjy * jy + wr * f - b * jy * jy


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH)
def _solve_block(
    anchors: np.ndarray,
    rssi: np.ndarray,
    count: np.ndarray,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    i0: int,
    tag_height: float,
    bounds: np.ndarray,
    x0: np.ndarray,
    use_x0: bool,
    max_iter: int,
    min_readers: int,
    tol: float,
    P: np.ndarray,
    T: np.ndarray,
    ibuf: np.ndarray,
    fbuf: np.ndarray,
    S: np.ndarray,
    ACC: np.ndarray,
    out_x: np.ndarray,
    out_y: np.ndarray,
    out_u: np.ndarray,
    out_status: np.ndarray,
    out_iter: np.ndarray,
) -> None:
    """Rows i0 .. i0 + _L - 1 (those that exist), one lane each."""
    n = anchors.shape[0]
    K = anchors.shape[1]
    xmin = bounds[0]
    ymin = bounds[1]
    xmax = bounds[2]
    ymax = bounds[3]
    wdx = xmax - xmin
    wdy = ymax - ymin
    diag = math.sqrt(wdx * wdx + wdy * wdy)
    cap = max(CENTROID_MIN_UNCERTAINTY, diag)
    # S rows (per lane): 0 m, 1 lmax, 2 kbest, 3 cx, 4 cy, 5 spread, 6 active, 7 x, 8 y,
    # 9 chi2, 10..11 g, 12..14 J^T W J, 15..17 full Hessian, 18 lam, 19 iterations,
    # 20 nx, 21 ny, 22 sum w, 23 centroid ok.
    kb = 0
    for ln in range(_L):
        i = i0 + ln
        m = 0
        lmax = -np.inf
        kbest = 0
        if i < n:
            cnt = min(max(count[i], 0), K)
            for k in range(cnt):
                ax = anchors[i, k, 0]
                ay = anchors[i, k, 1]
                dz = anchors[i, k, 2] - tag_height
                c = rssi[i, k] - rssi_1m[i, k]
                ne = exponent[i, k]
                s = sigma_db[i, k]
                if not (
                    math.isfinite(ax)
                    and math.isfinite(ay)
                    and math.isfinite(dz)
                    and math.isfinite(c)
                    and math.isfinite(ne)
                    and math.isfinite(s)
                    and ne > 0.0
                    and s > 0.0
                ):
                    continue
                a = 5.0 * ne / _LN10
                w = 1.0 / (s * s)
                inv_a = 1.0 / a
                dz2 = dz * dz
                if not (math.isfinite(a) and math.isfinite(w) and math.isfinite(inv_a)):
                    continue
                if not (math.isfinite(dz2) and a > 0.0 and w > 0.0):
                    continue
                j = m * _L + ln
                P[0, j] = ax
                P[1, j] = ay
                P[2, j] = dz2
                P[3, j] = c
                P[4, j] = a
                P[5, j] = w
                P[6, j] = inv_a
                lw = c * inv_a  # ln of the centroid weight 1/r^2
                P[7, j] = lw
                if lw > lmax:
                    lmax = lw
                    kbest = m
                m += 1
        for k in range(m, K):
            # Padding: weight 0 and harmless values, so padded columns add exact zeros.
            j = k * _L + ln
            P[0, j] = 0.0
            P[1, j] = 0.0
            P[2, j] = 1.0
            P[3, j] = 0.0
            P[4, j] = 1.0
            P[5, j] = 0.0
            P[6, j] = 1.0
            P[7, j] = -np.inf
        if not math.isfinite(lmax):
            lmax = 0.0
        S[0, ln] = m
        S[1, ln] = lmax
        S[2, ln] = kbest
        if m > kb:
            kb = m
    if kb == 0:
        kb = 1
    nk = kb * _L
    # Centroid weights exp(lw - lmax) in [0, 1], zero on padding.
    for k in range(kb):
        for ln in range(_L):
            j = k * _L + ln
            v = P[7, j] - S[1, ln]
            T[0, j] = v if v > -700.0 else -700.0
    _vexp(T[0], nk, ibuf, fbuf, T[1])
    for ln in range(_L):
        S[22, ln] = 0.0
        S[3, ln] = 0.0
        S[4, ln] = 0.0
        S[5, ln] = 0.0
    for k in range(kb):
        for ln in range(_L):
            j = k * _L + ln
            w = T[1, j] if P[5, j] > 0.0 else 0.0
            T[1, j] = w
            S[22, ln] += w
            S[3, ln] += w * P[0, j]
            S[4, ln] += w * P[1, j]
    for ln in range(_L):
        S[3, ln] = S[3, ln] / S[22, ln]
        S[4, ln] = S[4, ln] / S[22, ln]
    for k in range(kb):
        for ln in range(_L):
            j = k * _L + ln
            ddx = P[0, j] - S[3, ln]
            ddy = P[1, j] - S[4, ln]
            S[5, ln] += T[1, j] * (ddx * ddx + ddy * ddy)
    # Per lane: fallbacks written now; the rest start from the centroid or x0.
    any_active = False
    for ln in range(_L):
        i = i0 + ln
        S[6, ln] = 0.0
        S[7, ln] = 0.5 * (xmin + xmax)
        S[8, ln] = 0.5 * (ymin + ymax)
        S[19, ln] = 0.0
        if i >= n:
            continue
        m = int(S[0, ln])
        out_iter[i] = 0
        if m == 0:
            out_x[i] = 0.5 * (xmin + xmax)
            out_y[i] = 0.5 * (ymin + ymax)
            out_u[i] = 0.5 * diag
            out_status[i] = FIX_NONE
            continue
        cx = S[3, ln]
        cy = S[4, ln]
        cok = math.isfinite(cx) and math.isfinite(cy)
        if not cok:
            cx = P[0, ln]
            cy = P[1, ln]
        S[3, ln] = _clamp(cx, xmin, xmax)
        S[4, ln] = _clamp(cy, ymin, ymax)
        S[23, ln] = 1.0 if cok else 0.0
        if m < min_readers or m < 2:
            out_x[i] = S[3, ln]
            out_y[i] = S[4, ln]
            out_u[i] = _centroid_radius(P, S, ln, cap)
            out_status[i] = FIX_CENTROID
            continue
        x = S[3, ln]
        y = S[4, ln]
        if use_x0:
            gx = x0[i, 0]
            gy = x0[i, 1]
            if math.isfinite(gx) and math.isfinite(gy):
                x = _clamp(gx, xmin, xmax)
                y = _clamp(gy, ymin, ymax)
        S[7, ln] = x
        S[8, ln] = y
        S[6, ln] = 1.0
        S[18, ln] = 1e-3
        any_active = True
    if not any_active:
        return
    _eval_lanes(P, kb, S[7], S[8], T, ibuf, fbuf, ACC)
    for q in range(9):
        for ln in range(_L):
            S[9 + q, ln] = ACC[q, ln]
    for _it in range(max_iter):
        any_active = False
        for ln in range(_L):
            S[20, ln] = S[7, ln]
            S[21, ln] = S[8, ln]
            if S[6, ln] == 0.0:
                continue
            S[19, ln] += 1.0
            x = S[7, ln]
            y = S[8, ln]
            g0 = S[10, ln]
            g1 = S[11, ln]
            f00 = S[15, ln]
            f01 = S[16, ln]
            f11 = S[17, ln]
            lam = S[18, ln]
            if f00 > 0.0 and f11 > 0.0 and f00 * f11 - f01 * f01 > 0.0:
                b00 = f00
                b01 = f01
                b11 = f11
            else:
                b00 = S[12, ln]
                b01 = S[13, ln]
                b11 = S[14, ln]
            a00 = b00 * (1.0 + lam) + 1e-12
            a11 = b11 * (1.0 + lam) + 1e-12
            fix_x = (x <= xmin and g0 > 0.0) or (x >= xmax and g0 < 0.0)
            fix_y = (y <= ymin and g1 > 0.0) or (y >= ymax and g1 < 0.0)
            if fix_x and fix_y:
                S[6, ln] = 0.0
                continue
            if fix_x:
                sx = 0.0
                sy = -g1 / a11
            elif fix_y:
                sx = -g0 / a00
                sy = 0.0
            else:
                det = a00 * a11 - b01 * b01
                if not det > 0.0:
                    S[6, ln] = 0.0
                    continue
                inv = 1.0 / det
                sx = -(a11 * g0 - b01 * g1) * inv
                sy = -(a00 * g1 - b01 * g0) * inv
            nx = _clamp(x + sx, xmin, xmax)
            ny = _clamp(y + sy, ymin, ymax)
            if (nx - x) * (nx - x) + (ny - y) * (ny - y) < tol * tol:
                S[7, ln] = nx
                S[8, ln] = ny
                S[6, ln] = 0.0
                continue
            S[20, ln] = nx
            S[21, ln] = ny
            any_active = True
        if not any_active:
            break
        _eval_lanes(P, kb, S[20], S[21], T, ibuf, fbuf, ACC)
        for ln in range(_L):
            if S[6, ln] == 0.0:
                continue
            if ACC[0, ln] <= S[9, ln]:
                nx = S[20, ln]
                ny = S[21, ln]
                step2 = (nx - S[7, ln]) ** 2 + (ny - S[8, ln]) ** 2
                S[7, ln] = nx
                S[8, ln] = ny
                for q in range(9):
                    S[9 + q, ln] = ACC[q, ln]
                S[18, ln] = max(S[18, ln] * 0.1, 1e-9)
                if step2 < tol * tol:
                    S[6, ln] = 0.0
            else:
                S[18, ln] *= 10.0
                if S[18, ln] > 1e8:
                    S[6, ln] = 0.0
    for ln in range(_L):
        i = i0 + ln
        if i >= n:
            continue
        m = int(S[0, ln])
        if m == 0 or m < min_readers or m < 2:
            continue
        out_iter[i] = int(S[19, ln])
        x = S[7, ln]
        y = S[8, ln]
        chi2 = S[9, ln]
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(chi2)):
            out_x[i] = S[3, ln]
            out_y[i] = S[4, ln]
            out_u[i] = _centroid_radius(P, S, ln, cap)
            out_status[i] = FIX_DIVERGED
            continue
        h00 = S[12, ln]
        h01 = S[13, ln]
        h11 = S[14, ln]
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
        out_x[i] = x
        out_y[i] = y
        out_u[i] = u
        out_status[i] = FIX_OK


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _centroid_radius(P: np.ndarray, S: np.ndarray, ln: int, cap: float) -> float:
    """Radius of lane ln's centroid: max(5 m, spread + the strongest reader's horizontal range)."""
    if S[23, ln] == 0.0:
        return cap
    spread = math.sqrt(S[5, ln] / S[22, ln])
    j = int(S[2, ln]) * _L + ln
    r2 = math.exp(min(-S[1, ln], 700.0))
    rh = math.sqrt(max(r2 - P[2, j], 0.0))
    u = max(CENTROID_MIN_UNCERTAINTY, spread + rh)
    if not u < cap:
        return cap
    return u


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH)
def _lanes_serial(
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
    """Every row, _L at a time, one core."""
    n = anchors.shape[0]
    kl = max(anchors.shape[1], 1) * _L
    P = np.empty((8, kl))
    T = np.empty((2, kl))
    ibuf = np.empty(kl, np.int64)
    fbuf = ibuf.view(np.float64)
    S = np.empty((24, _L))
    ACC = np.empty((9, _L))
    for i0 in range(0, n, _L):
        _solve_block(
            anchors, rssi, count, rssi_1m, exponent, sigma_db, i0, tag_height, bounds,
            x0, use_x0, max_iter, min_readers, tol, P, T, ibuf, fbuf, S, ACC,
            out_x, out_y, out_u, out_status, out_iter,
        )  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, parallel=True)
def _lanes_parallel(
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
    """Every row, _L at a time, chunks of blocks spread over the cores."""
    n = anchors.shape[0]
    kl = max(anchors.shape[1], 1) * _L
    chunk = 512 * _L
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        P = np.empty((8, kl))
        T = np.empty((2, kl))
        ibuf = np.empty(kl, np.int64)
        fbuf = ibuf.view(np.float64)
        S = np.empty((24, _L))
        ACC = np.empty((9, _L))
        stop = min(n, (c + 1) * chunk)
        for i0 in range(c * chunk, stop, _L):
            _solve_block(
                anchors, rssi, count, rssi_1m, exponent, sigma_db, i0, tag_height, bounds,
                x0, use_x0, max_iter, min_readers, tol, P, T, ibuf, fbuf, S, ACC,
                out_x, out_y, out_u, out_status, out_iter,
            )  # fmt: skip


def _as_rows(name: str, a: npt.ArrayLike, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """A C-contiguous float64 array of `shape` (broadcast from a scalar or a row)."""
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
    simd: bool = True,
) -> Fixes:
    """Fixes for n rows of up to K readings each (see the module docstring).

    anchors (n, K, 3): reader x, y, z (z above the floor); rssi (n, K) dBm; count (n,):
    usable columns, packed first; rssi_1m, exponent, sigma_db (n, K) (or broadcastable).
    bounds (xmin, ymin, xmax, ymax); x0 (n, 2) optional start (NaN rows: the centroid).
    `parallel=True` spreads the rows over the cores (same results). `simd=False` runs
    the scalar kernel (libm log, one fix at a time): the reference for the SIMD lanes.
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
    cnt = np.ascontiguousarray(np.clip(cnt, 0, K), dtype=np.int64)
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
        guess = np.zeros((n, 2))
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
    if simd:
        kernel = _lanes_parallel if parallel else _lanes_serial
    else:
        kernel = _kernel_parallel if parallel else _kernel_serial
    kernel(
        anc, rs, cnt, p0, ex, sg, float(tag_height), b, guess, use_x0, int(max_iter),
        int(min_readers), float(tol), out_x, out_y, out_u, out_status, out_iter,
    )  # fmt: skip
    return Fixes(out_x, out_y, out_u, out_status, out_iter)
