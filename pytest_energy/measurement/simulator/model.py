"""A documented, versioned model turning callgrind counts into joules.

Model ``sim-energy/1``::

    L1 hits  = Ir + Dr + Dw - I1mr - D1mr - D1mw
    LL hits  = I1mr + D1mr + D1mw - ILmr - DLmr - DLmw
    RAM      = ILmr + DLmr + DLmw
    cycles   = l1_hit_cycles*L1 + ll_hit_cycles*LL + ram_cycles*RAM
    joules   = core_watts * cycles / clock_hz + RAM * joules_per_ram_access

Default coefficients and their sources:

* Cycle weights 1 / 5 / 35 for an L1 hit, an LL hit and a RAM access: the estimate used
  by iai (Rust, ``Estimated Cycles``) and by pythonspeed.com, "Consistent benchmarking
  in CI" (Itamar Turner-Trauring, 2021).
* ``clock_hz`` 3.0 GHz and ``core_watts`` 10 W: one busy core of a typical server/
  desktop part (a 100-200 W TDP package with 10-20 cores); replace with ``calibrate``.
* ``joules_per_ram_access`` 20 nJ per 64-byte line: node-level DRAM energy per cache
  line in the EAR/BSC energy models (~20-40 nJ per line); device-level figures are
  lower, ~1-3 nJ per 64-bit word (M. Horowitz, "Computing's energy problem",
  ISSCC 2014).

It cannot see sleeping, I/O, GPU work, parallel speed-up or hardware prefetch
(streaming code looks more memory-bound than it is). :func:`fit` replaces the
coefficients by a non-negative least-squares fit against measured joules (RAPL).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from .counts import Counts

__all__ = [
    "MODEL_VERSION",
    "ModelCoefficients",
    "DEFAULT_MODEL",
    "ModelError",
    "cache_levels",
    "joules",
    "fit",
    "nnls",
]

MODEL_VERSION = "sim-energy/1"
KNOWN_VERSIONS = frozenset({MODEL_VERSION})


class ModelError(ValueError):
    """Invalid model file or coefficients; ``str(exc)`` is one line."""


@dataclass(frozen=True)
class ModelCoefficients:
    """Coefficients of model ``sim-energy/1`` (see the module docstring for sources)."""

    version: str = MODEL_VERSION
    core_watts: float = 10.0
    clock_hz: float = 3.0e9
    l1_hit_cycles: float = 1.0
    ll_hit_cycles: float = 5.0
    ram_cycles: float = 35.0
    joules_per_ram_access: float = 20e-9
    source: str = "defaults: iai/pythonspeed cycle weights, EAR/BSC DRAM energy"

    def __post_init__(self) -> None:
        if self.version not in KNOWN_VERSIONS:
            known = ", ".join(sorted(KNOWN_VERSIONS))
            raise ModelError(f"unknown model version {self.version!r} (known: {known})")
        for f in fields(self):
            if f.name in ("version", "source"):
                if not isinstance(getattr(self, f.name), str):
                    raise ModelError(f"model field {f.name} must be a string")
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ModelError(f"model field {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ModelError(f"model field {f.name} must be finite and >= 0, got {value!r}")
        if self.clock_hz <= 0:
            raise ModelError("model field clock_hz must be > 0")

    def to_dict(self) -> dict[str, object]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> ModelCoefficients:
        """Validate and build; raises :class:`ModelError` with a one-line message."""
        if not isinstance(data, dict):
            raise ModelError("model file must hold a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"unknown model fields: {', '.join(unknown)}")
        if "version" not in data:
            raise ModelError("model file has no 'version'")
        return cls(**data)

    @property
    def identity(self) -> str:
        """``sim-energy/1#<digest of the coefficients>``: figures of two models are never compared."""
        digest = hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.version}#{digest}"

    def cycles(self, counts: Counts) -> float:
        """Estimated core cycles of a region."""
        l1, ll, ram = cache_levels(counts)
        return self.l1_hit_cycles * l1 + self.ll_hit_cycles * ll + self.ram_cycles * ram

    def joules(self, counts: Counts) -> float:
        """Modelled energy of a region in joules."""
        ram = cache_levels(counts)[2]
        return (
            self.core_watts * self.cycles(counts) / self.clock_hz + ram * self.joules_per_ram_access
        )


DEFAULT_MODEL = ModelCoefficients()


def cache_levels(counts: Counts) -> tuple[int, int, int]:
    """(L1 hits, LL hits, RAM accesses) of a region."""
    l1_misses = counts.i1mr + counts.d1mr + counts.d1mw
    ram = counts.ilmr + counts.dlmr + counts.dlmw
    return counts.ir + counts.dr + counts.dw - l1_misses, l1_misses - ram, ram


def joules(counts: Counts, model: ModelCoefficients = DEFAULT_MODEL) -> float:
    """Modelled energy of a region in joules (``model.joules(counts)``)."""
    return model.joules(counts)


# --- fitting ---------------------------------------------------------------------------


def _lstsq(columns: list[list[float]], b: list[float]) -> list[float]:
    """Least squares for a few columns via modified Gram-Schmidt QR."""
    q = [col[:] for col in columns]
    k = len(q)
    r = [[0.0] * k for _ in range(k)]
    for j in range(k):
        for i in range(j):
            r[i][j] = sum(a * c for a, c in zip(q[i], q[j], strict=True))
            q[j] = [c - r[i][j] * a for a, c in zip(q[i], q[j], strict=True)]
        r[j][j] = math.sqrt(sum(c * c for c in q[j]))
        if r[j][j] <= 1e-12:
            raise ModelError("fit data are degenerate (collinear or empty columns)")
        q[j] = [c / r[j][j] for c in q[j]]
    y = [sum(a * c for a, c in zip(q[j], b, strict=True)) for j in range(k)]
    x = [0.0] * k
    for j in reversed(range(k)):
        x[j] = (y[j] - sum(r[j][i] * x[i] for i in range(j + 1, k))) / r[j][j]
    return x


def nnls(
    columns: Sequence[Sequence[float]], b: Sequence[float], max_iter: int = 100
) -> list[float]:
    """Non-negative least squares (Lawson & Hanson 1974): min ||A x - b|| with x >= 0.

    ``columns`` are the columns of A. Intended for a handful of columns; columns should be
    scaled to comparable norms by the caller (``fit`` does).
    """
    n = len(columns)
    cols = [list(map(float, c)) for c in columns]
    bb = list(map(float, b))
    x = [0.0] * n
    passive: list[int] = []
    tol = 1e-10 * max(1.0, math.sqrt(sum(v * v for v in bb)))

    def gradient() -> list[float]:
        resid = [bi - sum(x[j] * cols[j][i] for j in range(n)) for i, bi in enumerate(bb)]
        return [sum(c * r for c, r in zip(cols[j], resid, strict=True)) for j in range(n)]

    for _ in range(max_iter):
        w = gradient()
        candidates = [j for j in range(n) if j not in passive and w[j] > tol]
        if not candidates:
            break
        passive.append(max(candidates, key=lambda j: w[j]))
        while True:
            sol = _lstsq([cols[j] for j in passive], bb)
            if all(v > 0 for v in sol):
                for j in range(n):
                    x[j] = 0.0
                for j, v in zip(passive, sol, strict=True):
                    x[j] = v
                break
            # step back to the boundary and drop the variables that hit zero
            alpha = min(x[j] / (x[j] - v) for j, v in zip(passive, sol, strict=True) if v <= 0)
            for j, v in zip(passive, sol, strict=True):
                x[j] += alpha * (v - x[j])
            passive = [j for j in passive if x[j] > 1e-15]
            for j in range(n):
                if j not in passive:
                    x[j] = 0.0
            if not passive:
                break
    return x


def fit(
    samples: Sequence[tuple[Counts, float]], base: ModelCoefficients = DEFAULT_MODEL
) -> ModelCoefficients:
    """Fit coefficients to (counts, measured joules) pairs by non-negative least squares.

    Identifiable form: joules = a*(L1 + r*RAM) + b*LL + e*RAM with a, b, e >= 0, where
    the L1 weight (1 cycle) fixes the cycle unit and ``r`` = ``base.ram_cycles`` and
    ``base.clock_hz`` are kept (cycles spent waiting on RAM and DRAM energy per access
    are not separable from counts alone). Then core_watts = a*clock_hz,
    ll_hit_cycles = b/a, joules_per_ram_access = e.
    """
    if len(samples) < 3:
        raise ModelError("fit needs at least 3 samples")
    r = base.ram_cycles
    rows = [cache_levels(c) for c, _ in samples]
    cols = [
        [l1 + r * ram for l1, _, ram in rows],
        [ll for _, ll, _ in rows],
        [ram for *_, ram in rows],
    ]
    b = [float(j) for _, j in samples]
    if any(not math.isfinite(v) or v < 0 for v in b):
        raise ModelError("measured joules must be finite and >= 0")
    norms = [math.sqrt(sum(v * v for v in col)) or 1.0 for col in cols]
    scaled = nnls([[v / nrm for v in col] for col, nrm in zip(cols, norms, strict=True)], b)
    a, bll, e = (s / nrm for s, nrm in zip(scaled, norms, strict=True))
    if a <= 0:
        raise ModelError("fit gave zero energy per cycle: samples do not constrain the model")
    return ModelCoefficients(
        version=MODEL_VERSION,
        core_watts=a * base.clock_hz,
        clock_hz=base.clock_hz,
        l1_hit_cycles=1.0,
        ll_hit_cycles=bll / a,
        ram_cycles=r,
        joules_per_ram_access=e,
        source=f"fit: NNLS on {len(samples)} samples",
    )
