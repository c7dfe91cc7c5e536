"""Success-rate statistics for robot evaluation: Wilson intervals and Fisher's exact test.

Pure Python (tools env, no scipy): a lab evaluates 2 checkpoints x 6-20 episodes, where the
normal approximation lies (7/10 gives 0.42..0.98 by it, 0.40..0.89 by Wilson) and a p-value
from a chi-square test is wrong. Why Wilson: its interval stays inside 0..1 and is honest at
0/n and n/n, where the Wald interval collapses to a point. Why Fisher: with these counts only
an exact test is valid; here it is computed from the hypergeometric distribution with exact
integers (``math.comb``), two-sided as scipy.stats.fisher_exact does (the sum of every table's
probability that is not larger than the observed one, with scipy's 1e-7 relative tolerance).

Labels: ``success``, ``failure``, ``partial`` count as attempts (partial is not a success,
reported on its own); ``aborted`` episodes are excluded from every rate, with their reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal
ALPHA = 0.05
LABELS = ("success", "failure", "partial", "aborted")


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` / ``n`` (95 % by default); (0, 1) when n = 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson: need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # at 0/n and n/n the bound is exactly 0 or 1; rounding must not move it outside
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def fisher_exact(table: list[list[int]]) -> float:
    """Two-sided p-value of Fisher's exact test on [[a, b], [c, d]] (rows: A, B; cols: s, f).

    Exact: every table with the observed margins has hypergeometric probability
    C(r1, x) C(r2, c1 - x) / C(n, c1); the p-value sums those not above the observed one.
    """
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError(f"fisher_exact: negative count in {table}")
    r1, r2, c1 = a + b, c + d, a + c
    n = r1 + r2
    total = math.comb(n, c1)
    if total == 0 or r1 == 0 or r2 == 0 or c1 == 0 or c1 == n:
        return 1.0
    lo, hi = max(0, c1 - r2), min(r1, c1)
    weights = {x: math.comb(r1, x) * math.comb(r2, c1 - x) for x in range(lo, hi + 1)}
    observed = weights[a]
    # scipy's tolerance: tables within 1e-7 (relative) of the observed one count as "as extreme"
    limit = Fraction(observed) * (1 + Fraction(1, 10**7))
    p = Fraction(sum(w for w in weights.values() if w <= limit), total)
    return min(1.0, float(p))


@dataclass
class Rate:
    """One checkpoint's counts and its success rate with the 95 % Wilson interval."""

    checkpoint: str
    success: int
    failure: int
    partial: int
    aborted: int

    @property
    def attempts(self) -> int:
        """Episodes that count: aborted ones are excluded."""
        return self.success + self.failure + self.partial

    @property
    def rate(self) -> float | None:
        return self.success / self.attempts if self.attempts else None

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson(self.success, self.attempts)


def rates(episodes: list[dict]) -> list[Rate]:
    """Per checkpoint (in first-seen order) from episode records with ``checkpoint``, ``label``."""
    out: dict[str, Rate] = {}
    for ep in episodes:
        label = ep["label"]
        if label not in LABELS:
            raise ValueError(f"episode {ep.get('episode_index')}: unknown label {label!r}")
        r = out.setdefault(ep["checkpoint"], Rate(ep["checkpoint"], 0, 0, 0, 0))
        setattr(r, label, getattr(r, label) + 1)
    return list(out.values())


def compare(a: Rate, b: Rate) -> dict:
    """Fisher's exact test of A vs B on successes vs non-successes, with its verdict in words."""
    table = [[a.success, a.attempts - a.success], [b.success, b.attempts - b.success]]
    p = fisher_exact(table)
    if p >= ALPHA:
        verdict = f"no difference shown (p = {p:.3g} >= {ALPHA})"
    else:
        better = a if (a.rate or 0) > (b.rate or 0) else b
        verdict = f"{better.checkpoint} succeeds more often (p = {p:.3g} < {ALPHA})"
    return {"a": a.checkpoint, "b": b.checkpoint, "table": table, "test": "fisher_exact",
            "two_sided_p": p, "alpha": ALPHA, "verdict": verdict}  # fmt: skip
