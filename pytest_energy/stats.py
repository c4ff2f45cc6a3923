"""Summaries of noisy samples: median, spread and a bootstrap 95% CI."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction

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


def _percentile_interval(values: list[float], confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap replicates."""
    values = sorted(values)
    tail = (1 - confidence) / 2
    last = len(values) - 1
    return values[int(tail * last)], values[math.ceil((1 - tail) * last)]


#: Up to this many samples the median's bootstrap distribution is computed exactly
#: (:func:`median_bootstrap_distribution`); beyond, it is sampled (``resamples`` draws).
EXACT_MEDIAN_MAX = 60


def bootstrap_median_ci(
    samples: Sequence[float], confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the median: from its exact bootstrap distribution (all
    n**n resamples, weighed in closed form) up to :data:`EXACT_MEDIAN_MAX` samples, else
    from ``resamples`` drawn with ``seed``; deterministic either way."""
    if len(samples) < 2:
        value = samples[0] if samples else math.nan
        return value, value
    n = len(samples)
    if n <= EXACT_MEDIAN_MAX:
        return _distribution_interval(median_bootstrap_distribution(samples), confidence)
    rng = random.Random(seed)
    medians = [statistics.median(rng.choices(samples, k=n)) for _ in range(resamples)]
    return _percentile_interval(medians, confidence)


def median_bootstrap_distribution(samples: Sequence[float]) -> list[tuple[float, int]]:
    """The median of a resample (n draws with replacement from the n ``samples``) as
    (value, weight) pairs, the weights counting resamples out of n**n, by value.

    With x_1 <= ... <= x_n sorted and N_j the draws among x_1..x_j (binomial, j/n): the
    k-th smallest draw is x_j exactly when N_(j-1) < k <= N_j. For an even n the median
    averages the (n/2)-th and (n/2 + 1)-th smallest: a pair (a, b), a < b, has
    N_(a-1) < n/2 = N_a = N_(b-1) < N_b, which inclusion-exclusion over
    f(p, q) = #{N_p = N_q = n/2} = C(n, n/2) p**(n/2) (n-q)**(n/2) counts."""
    x = sorted(samples)
    n = len(x)

    combs = [math.comb(n, i) for i in range(n + 1)]

    def at_least(k: int, j: int) -> int:  # resamples with N_j >= k
        return sum(combs[i] * j**i * (n - j) ** (n - i) for i in range(k, n + 1))

    weights: dict[float, int] = {}
    if n % 2:
        k = (n + 1) // 2
        tails = [at_least(k, j) for j in range(n + 1)]
        for j in range(1, n + 1):
            weights[x[j - 1]] = weights.get(x[j - 1], 0) + tails[j] - tails[j - 1]
        return sorted(weights.items())
    k = n // 2
    comb = math.comb(n, k)
    first = [at_least(k, j) for j in range(n + 1)]
    second = [at_least(k + 1, j) for j in range(n + 1)]
    # f(a, b-1) - f(a-1, b-1) - f(a, b) + f(a-1, b) = C(n, k) lower[a] upper[b]
    lower = [0] + [a**k - (a - 1) ** k for a in range(1, n + 1)]
    upper = [0] + [(n - b + 1) ** k - (n - b) ** k for b in range(1, n + 1)]
    for a in range(1, n + 1):
        both = second[a] - first[a - 1] + comb * (a - 1) ** k * (n - a) ** k  # both middle draws are x_a
        weights[x[a - 1]] = weights.get(x[a - 1], 0) + both
        scale, low = comb * lower[a], x[a - 1]
        for b in range(a + 1, n + 1):
            value = (low + x[b - 1]) / 2
            weights[value] = weights.get(value, 0) + scale * upper[b]
    return sorted(weights.items())


def _distribution_interval(distribution: list[tuple[float, int]], confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of a discrete distribution of (value, weight)
    pairs sorted by value: the values where its CDF first exceeds each tail, as
    :func:`_percentile_interval` gives for ever more replicates."""
    total = sum(weight for _, weight in distribution)
    tail = Fraction((1 - confidence) / 2)
    bounds, cumulative = [], 0
    targets = iter((tail * total, (1 - tail) * total))  # exact: the weights are huge integers
    target: Fraction | None = next(targets)
    for value, weight in distribution:
        cumulative += weight
        while target is not None and cumulative > target:
            bounds.append(value)
            target = next(targets, None)
    while len(bounds) < 2:
        bounds.append(distribution[-1][0])
    return bounds[0], bounds[1]


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


def bootstrap_ratio_ci(
    current: Sequence[float], baseline: Sequence[float], confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of median(current) / median(baseline)."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        base = statistics.median(rng.choices(baseline, k=len(baseline)))
        cur = statistics.median(rng.choices(current, k=len(current)))
        ratios.append(cur / base if base > 0 else math.inf)
    return _percentile_interval(ratios, confidence)


#: Above this many samples in all, Mann-Whitney uses the normal approximation.
EXACT_MANN_WHITNEY_MAX = 25


def _rank_sum_counts(ranks: Sequence[int], k: int, total: int) -> list[int]:
    """counts[s]: how many k-subsets of ``ranks`` sum to s."""
    ways = [[0] * (total + 1) for _ in range(k + 1)]
    ways[0][0] = 1
    for rank in ranks:
        for size in range(k, 0, -1):
            row, prev = ways[size], ways[size - 1]
            for s in range(total, rank - 1, -1):
                if prev[s - rank]:
                    row[s] += prev[s - rank]
    return ways[k]


def _midranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value that ``x`` tends to be larger than ``y`` (Mann-Whitney U).

    Exact (permutation distribution of the rank sum, ties as midranks) for small samples,
    normal approximation with tie correction otherwise.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 1.0
    ranks = _midranks(list(x) + list(y))
    doubled = [round(2 * r) for r in ranks]  # midranks are halves: work in integers
    observed = sum(doubled[:n1])
    if n1 + n2 <= EXACT_MANN_WHITNEY_MAX:
        total = sum(doubled)
        counts = _rank_sum_counts(doubled, min(n1, n2), total)
        if n1 <= n2:
            return sum(counts[observed:]) / math.comb(n1 + n2, n1)
        return sum(counts[: total - observed + 1]) / math.comb(n1 + n2, n1)
    n = n1 + n2
    ties = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    tie_term = sum(t**3 - t for t in ties.values()) / (n * (n - 1))
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    u = observed / 2 - n1 * (n1 + 1) / 2
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def geometric_mean_ratio(
    base: Sequence[float], head: Sequence[float], confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[float, float, float]:
    """Geometric mean of ``head[i] / base[i]`` over the pairs (both positive), with a
    percentile bootstrap CI: the ratio of two revisions measured in turns."""
    logs = [math.log(h / b) for b, h in zip(base, head, strict=False) if b > 0 and h > 0]
    if not logs:
        return math.nan, math.nan, math.nan
    ratio = math.exp(statistics.fmean(logs))
    if len(logs) < 2:
        return ratio, ratio, ratio
    n = len(logs)
    # one draw of all resamples: the same random stream as one draw each, without the calls
    drawn = random.Random(seed).choices(logs, k=n * resamples)
    means = [math.fsum(drawn[i : i + n]) / n for i in range(0, n * resamples, n)]  # fmean's figures
    low, high = _percentile_interval(means, confidence)
    return ratio, math.exp(low), math.exp(high)


def wilcoxon_greater(differences: Sequence[float]) -> float:
    """One-sided p-value that paired ``differences`` tend to be positive (Wilcoxon
    signed-rank; zeros dropped, ties as midranks). Exact for small samples, normal
    approximation with tie correction otherwise."""
    values = [d for d in differences if d != 0]
    n = len(values)
    if n == 0:
        return 1.0
    ranks = _midranks([abs(d) for d in values])
    doubled = [round(2 * r) for r in ranks]
    observed = sum(r for r, d in zip(doubled, values, strict=True) if d > 0)
    if n <= EXACT_MANN_WHITNEY_MAX:
        total = sum(doubled)
        counts = [0] * (total + 1)  # counts[s]: sign assignments whose positive ranks sum to s
        counts[0] = 1
        for rank in doubled:
            for s in range(total, rank - 1, -1):
                counts[s] += counts[s - rank]
        return sum(counts[observed:]) / 2**n
    ties: dict[float, int] = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    variance = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in ties.values()) / 48
    if variance <= 0:
        return 1.0
    z = (observed / 2 - n * (n + 1) / 4 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given: a test whose
    q-value is below ``alpha`` is a discovery with the false discovery rate held at ``alpha``."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__, reverse=True)
    adjusted = [1.0] * m
    running = 1.0
    for position, index in enumerate(order):
        rank = m - position
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def robust_sd(values: Sequence[float]) -> float:
    """Standard deviation that a few outliers (tests that really changed) barely move:
    values beyond 3 MAD-standard-deviations (1.4826 x MAD) of the median are pulled in to
    that distance first (winsorized), which keeps most of the plain estimate's precision."""
    if not values:
        return math.nan
    center = statistics.median(values)
    scale = 1.4826 * statistics.median(abs(v - center) for v in values)
    if len(values) < 2 or scale == 0:
        return scale
    clipped = [min(max(v, center - 3 * scale), center + 3 * scale) for v in values]
    return statistics.stdev(clipped)


def student_t_tail(t: float, df: int) -> float:
    """P(T > t) for Student's t with an even number ``df`` of degrees of freedom (the
    closed form: a finite series in cos(atan(t / sqrt(df))))."""
    if df < 2 or df % 2:
        raise ValueError("df must be even and at least 2")
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    term, series = 1.0, 1.0
    for k in range(1, df // 2):
        term *= cos2 * (2 * k - 1) / (2 * k)
        series += term
    return min(1.0, max(0.0, 0.5 - 0.5 * math.sin(theta) * series))  # rounding can leave [0, 1]


def t_quantile_99(df: int) -> float:
    """One-sided 99% quantile of Student's t (table below 5 degrees of freedom)."""
    table = {1: 31.821, 2: 6.965, 3: 4.541, 4: 3.747}
    if df in table:
        return table[df]
    z = 2.3263  # Cornish-Fisher expansion around the normal quantile
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
