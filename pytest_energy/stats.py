"""Summaries of noisy samples: median, spread and a bootstrap 95% CI."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Summary:
    """Summary of one sample list (same unit as the samples)."""

    n: int
    median: float
    mean: float
    stdev: float
    #: Coefficient of variation, stdev / mean (0 when it cannot be computed).
    cv: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return asdict(self)


def bootstrap_median_ci(
    samples: Sequence[float], confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the median; deterministic for a given ``seed``."""
    if len(samples) < 2:
        value = samples[0] if samples else math.nan
        return value, value
    rng = random.Random(seed)
    n = len(samples)
    medians = sorted(
        statistics.median(rng.choices(samples, k=n)) for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    return medians[int(tail * (resamples - 1))], medians[math.ceil((1 - tail) * (resamples - 1))]


def summarize(samples: Sequence[float]) -> Summary:
    """Median, mean, stdev, CV and the 95% bootstrap CI of the median."""
    if not samples:
        raise ValueError("no samples to summarize")
    mean = statistics.fmean(samples)
    stdev = statistics.stdev(samples) if len(samples) > 1 else 0.0
    low, high = bootstrap_median_ci(samples)
    return Summary(
        n=len(samples), median=statistics.median(samples), mean=mean, stdev=stdev,
        cv=stdev / mean if mean > 0 else 0.0, ci_low=low, ci_high=high,
    )
