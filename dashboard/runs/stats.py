"""Statistics for classifiers judged on images: numpy and the standard library only. Compare's decision
(dashboard.compare.decision), History's verdict per comparison (dashboard.runs.verdicts) and the accuracy intervals
of dashboard.evaluate all use these.

The dashboard's environment has no scipy; tests cross-check these against scipy and scikit-learn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

__all__ = ["Interval", "Z_95", "z_value", "wilson_bounds", "wilson_interval", "mcnemar_exact_p", "newcombe_paired_interval",
           "paired_bootstrap_interval", "cohen_kappa", "images_needed", "IMAGES_NEEDED_METHOD", "MAX_DISCORDANT",
           "jensen_shannon_distance", "total_variation_distance"]

IMAGES_NEEDED_METHOD = ("the exact binomial power of McNemar's test on the discordant images at two-sided "
                        "α = {alpha} and power {power}, with fixes and regressions in the observed ratio, scaled "
                        "by the observed share of discordant images")

# images_needed gives up past this many discordant images (the difference is then too small to chase).
MAX_DISCORDANT = 200_000


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    method: str
    level: float = 0.95

    @property
    def level_text(self) -> str:
        """"95% CI"."""
        return f"{self.level * 100:g}% CI"

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


# 97.5th percentile of the standard normal: a two-sided 95% interval.
Z_95 = 1.959963984540054


def wilson_bounds(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (sound near 0 and 1 and for small n, unlike p ± z·se)."""
    if total <= 0:
        raise ValueError("wilson_interval: total must be positive")
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    # At p = 0 or 1 the bound is exactly 0 or 1; floating point would land a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == total else min(1.0, centre + half)


def z_value(level: float = 0.95) -> float:
    """Two-sided standard normal quantile: 1.96 for 95%."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """wilson_bounds as an Interval; n = 0 gives the whole range around NaN."""
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0, "Wilson score", level)
    low, high = wilson_bounds(successes, n, z_value(level))
    return Interval(successes / n, low, high, "Wilson score", level)


def mcnemar_exact_p(fixes: int, regressions: int) -> float:
    """Two-sided exact McNemar test: the binomial test of the discordant pairs against 1/2.

    Doubling the smaller tail is exact here because Binomial(m, 1/2) is symmetric.
    """
    if fixes < 0 or regressions < 0:
        raise ValueError(f"discordant counts must be non-negative, got {fixes}, {regressions}")
    m = fixes + regressions
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(fixes, regressions) + 1))
    return min(1.0, 2 * tail / 2 ** m)


def newcombe_paired_interval(both_right: int, a_only: int, b_only: int, both_wrong: int,
                             level: float = 0.95) -> Interval:
    """Interval for accuracy(B) − accuracy(A) on paired data: Newcombe (1998, Stat Med 17:2635), method 10.

    Square-and-add of the two Wilson intervals, with the correlation φ of the paired table (ad − bc
    shrunk towards 0 by n/2 when positive, as Newcombe specifies).
    """
    n = both_right + a_only + b_only + both_wrong
    if n == 0:
        return Interval(math.nan, -1.0, 1.0, "Newcombe paired (method 10)", level)
    right_a, right_b = both_right + a_only, both_right + b_only
    wilson_a, wilson_b = wilson_interval(right_a, n, level), wilson_interval(right_b, n, level)
    p_a, p_b = wilson_a.estimate, wilson_b.estimate
    margins = right_a * (n - right_a) * right_b * (n - right_b)
    phi = 0.0
    if margins > 0:
        cross = both_right * both_wrong - a_only * b_only
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    difference = p_b - p_a
    down = math.sqrt(max(0.0, (p_b - wilson_b.low) ** 2 + (wilson_a.high - p_a) ** 2
                         - 2 * phi * (p_b - wilson_b.low) * (wilson_a.high - p_a)))
    up = math.sqrt(max(0.0, (wilson_b.high - p_b) ** 2 + (p_a - wilson_a.low) ** 2
                       - 2 * phi * (wilson_b.high - p_b) * (p_a - wilson_a.low)))
    return Interval(difference, max(-1.0, difference - down), min(1.0, difference + up),
                    "Newcombe paired (method 10)", level)


def paired_bootstrap_interval(a_correct: Sequence[bool], b_correct: Sequence[bool], *, seed: int = 0,
                              replicates: int = 4000, level: float = 0.95) -> Interval:
    """Percentile bootstrap over images of accuracy(B) − accuracy(A).

    Each image contributes −1, 0 or +1, so resampling n images with replacement is a multinomial draw
    of those three counts: the same distribution as index resampling, in O(replicates).
    """
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs as many A results as B results, got {a.size} and {b.size}")
    n = a.size
    method = f"paired bootstrap over images ({replicates} resamples, seed {seed})"
    if n == 0:
        return Interval(math.nan, -1.0, 1.0, method, level)
    regressions, fixes = int((a & ~b).sum()), int((~a & b).sum())
    shares = np.array([regressions, n - regressions - fixes, fixes]) / n
    counts = np.random.default_rng(seed).multinomial(n, shares, size=replicates)
    differences = (counts[:, 2] - counts[:, 0]) / n
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return Interval((fixes - regressions) / n, float(low), float(high), method, level)


def cohen_kappa(labels_a: Sequence, labels_b: Sequence) -> float | None:
    """Cohen's κ (1960): agreement beyond chance. None when chance agreement is 1 (κ undefined)."""
    a, b = np.asarray(labels_a, dtype=object), np.asarray(labels_b, dtype=object)
    if a.shape != b.shape or a.size == 0:
        return None
    observed = float(np.mean(a == b))
    classes = set(a.tolist()) | set(b.tolist())
    expected = sum(float(np.mean(a == c)) * float(np.mean(b == c)) for c in classes)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def _power_on_discordant(m: int, share: float, alpha: float, log_factorials: np.ndarray) -> float:
    """P(exact McNemar rejects at `alpha`) when m images are discordant and each is a fix w.p. `share`."""
    k = np.arange(m + 1)
    log_comb = log_factorials[m] - log_factorials[k] - log_factorials[m - k]
    null_cdf = np.cumsum(np.exp(log_comb - m * math.log(2)))
    p_values = np.minimum(1.0, 2 * null_cdf[np.minimum(k, m - k)])
    if share >= 1.0 or share <= 0.0:
        return float(p_values[m if share >= 1.0 else 0] < alpha)
    pmf = np.exp(log_comb + k * math.log(share) + (m - k) * math.log(1 - share))
    return float(pmf[p_values < alpha].sum())


def images_needed(fixes: int, regressions: int, n: int, *, alpha: float = 0.05, power: float = 0.8,
                  max_discordant: int = MAX_DISCORDANT) -> int | None:
    """Rough number of images for McNemar's test to detect the observed difference (see IMAGES_NEEDED_METHOD).

    None when there is no observed difference to detect (or it would take more than `max_discordant`
    discordant images).
    """
    discordant = fixes + regressions
    if n <= 0 or discordant == 0 or fixes == regressions:
        return None
    share, rate = fixes / discordant, discordant / n
    normal = NormalDist()
    z_alpha, z_power = normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)
    # The normal approximation (Connor 1987, conditional on discordance) seeds the exact search.
    guess = ((z_alpha * 0.5 + z_power * math.sqrt(share * (1 - share))) / abs(share - 0.5)) ** 2
    limit = min(max_discordant, max(int(guess * 3), 50))
    log_factorials = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, limit + 1)))))

    def enough(m: int) -> bool:
        return _power_on_discordant(m, share, alpha, log_factorials) >= power

    # Power climbs with m in a sawtooth: stride to the first m that has enough, then walk back over the stride.
    stride = max(1, int(guess) // 100)
    m = max(1, int(guess * 0.7))
    while m <= limit and not enough(m):
        m += stride
    if m > limit:
        return None
    first = next(k for k in range(max(1, m - stride + 1), m + 1) if enough(k))
    return math.ceil(first / rate)


def _rows(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, None)
    totals = p.sum(axis=-1, keepdims=True)
    return np.divide(p, totals, out=np.zeros_like(p), where=totals > 0)


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise √(Jensen–Shannon divergence), log base 2, so 0 (same) .. 1 (disjoint). Rows are renormalised."""
    p, q = _rows(p), _rows(q)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> np.ndarray:
        ratio = np.divide(x, m, out=np.ones_like(x), where=(x > 0) & (m > 0))
        return (x * np.log2(ratio)).sum(axis=-1)

    return np.sqrt(np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0))


def total_variation_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise ½ Σ|p − q| after renormalising: 0 (same) .. 1 (disjoint)."""
    return np.abs(_rows(p) - _rows(q)).sum(axis=-1) / 2
