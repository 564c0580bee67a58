"""Per-task metrics (pass@k, maj@k) and confidence intervals over tasks.

pass@k is the unbiased estimator of Chen et al. (2021): with ``n`` samples of which ``c`` are
correct, the probability that a random ``k``-subset holds at least one correct sample,
``1 - C(n-c, k) / C(n, k)``.

maj@k is defined the same way, as an expectation over random ``k``-subsets of the ``n`` samples:
the probability that the most frequent extracted answer of the subset is a correct one, ties
broken uniformly at random, samples without an extracted answer not voting (a subset in which
nobody votes scores 0). It is computed exactly, so maj@n is the plain majority vote over all
samples and maj@1 equals the fraction of correct samples that carry an answer. Answers vote by
equivalence class, as the math verifier compares them: ``\\frac{1}{2}``, ``0.5`` and ``1/2`` are
one vote, not three.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..verifiers.math import answers_equivalent

# Above this many samples per task the exact maj@k sums would overflow float64 binomials; a seeded
# Monte Carlo estimate is used instead.
EXACT_MAJ_LIMIT = 1000
MONTE_CARLO_DRAWS = 20_000


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for ``c`` correct out of ``n`` samples: ``1 - C(n-c, k) / C(n, k)``."""
    _check_counts(n, c, k)
    if n - c < k:
        return 1.0
    # The product form avoids huge binomials: C(n-c, k)/C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i).
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_curve(n: int, c: int) -> list[float]:
    """pass@k for every k from 1 to n."""
    return [pass_at_k(n, c, k) for k in range(1, n + 1)]


def _check_counts(n: int, c: int, k: int) -> None:
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise TypeError(f"n, c and k must be integers, got {n!r}, {c!r}, {k!r}")
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n={n}, got {k}")


def answer_key(extracted: Any) -> Hashable | None:
    """The voting key of an extracted answer: whitespace-collapsed text; None does not vote."""
    if extracted is None:
        return None
    if isinstance(extracted, str):
        text = " ".join(extracted.split())
        return text or None
    if isinstance(extracted, (int, float, bool)):
        return str(extracted)
    return json.dumps(extracted, sort_keys=True, default=str)


@dataclass(frozen=True)
class VoteGroups:
    """Samples grouped by answer: each group's size and whether its answer was judged correct."""

    sizes: tuple[int, ...]
    correct: tuple[bool, ...]
    abstain: int  # samples with no extracted answer

    @property
    def n(self) -> int:
        """Total number of samples."""
        return sum(self.sizes) + self.abstain


Equivalence = Callable[[str, str], bool]


def vote_groups(
    answers: Sequence[Any],
    correct: Sequence[bool],
    *,
    equivalent: Equivalence | None = answers_equivalent,
) -> VoteGroups:
    """Group samples by extracted answer; a group is correct when most of its members were.

    Answers in one ``equivalent`` class vote together (the classes are the connected components
    of the relation, so the grouping does not depend on sample order); ``equivalent=None`` groups
    identical text only.
    """
    if len(answers) != len(correct):
        raise ValueError(f"{len(answers)} answers but {len(correct)} correctness flags")
    members: dict[Hashable, list[bool]] = {}
    abstain = 0
    for answer, ok in zip(answers, correct):
        key = answer_key(answer)
        if key is None:
            abstain += 1
        else:
            members.setdefault(key, []).append(bool(ok))
    if equivalent is not None and len(members) > 1:
        members = _merge_equivalent(members, equivalent)
    # A deterministic verifier gives every member of a group the same verdict; a vote decides the
    # rare disagreement (a verifier with a time-out, say) so the result does not depend on order.
    sizes = tuple(len(flags) for flags in members.values())
    flags = tuple(2 * sum(group) > len(group) for group in members.values())
    return VoteGroups(sizes=sizes, correct=flags, abstain=abstain)


def _merge_equivalent(
    members: dict[Hashable, list[bool]], equivalent: Equivalence
) -> dict[Hashable, list[bool]]:
    """Union the groups whose (text) answers ``equivalent`` relates, first-seen key kept."""
    keys = list(members)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(keys):
        for j in range(i + 1, len(keys)):
            b = keys[j]
            if isinstance(a, str) and isinstance(b, str) and root(i) != root(j):
                if equivalent(a, b):
                    parent[max(root(i), root(j))] = min(root(i), root(j))
    merged: dict[Hashable, list[bool]] = {}
    for i, key in enumerate(keys):
        merged.setdefault(keys[root(i)], []).extend(members[key])
    return merged


def maj_at_k(
    answers: Sequence[Any],
    correct: Sequence[bool],
    k: int,
    *,
    seed: int = 0,
    equivalent: Equivalence | None = answers_equivalent,
) -> float:
    """Expected majority-vote accuracy over random ``k``-subsets of the samples (exact)."""
    groups = vote_groups(answers, correct, equivalent=equivalent)
    n = groups.n
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of samples ({n}), got {k}")
    return maj_at_k_groups(groups, k, seed=seed)


def maj_at_k_groups(groups: VoteGroups, k: int, *, seed: int = 0) -> float:
    """maj@k from answer groups (see :func:`maj_at_k`)."""
    n = groups.n
    if not any(groups.correct):
        return 0.0
    if len(groups.sizes) == 1 and groups.abstain == 0:
        return 1.0
    if n > EXACT_MAJ_LIMIT:
        return _maj_monte_carlo(groups, k, seed)
    total = math.comb(n, k)
    win = 0.0
    for g, (size, ok) in enumerate(zip(groups.sizes, groups.correct)):
        if not ok:
            continue
        others = [s for i, s in enumerate(groups.sizes) if i != g]
        for x in range(1, min(size, k) + 1):
            ways = _ways_others_below(others, groups.abstain, x, k - x)
            win += math.comb(size, x) * ways
    return float(win / total)


def _ways_others_below(others: Sequence[int], abstain: int, x: int, r: int) -> float:
    """Weighted count of ways to pick ``r`` more samples with no other answer above ``x`` votes.

    Each way is weighted by ``1 / (1 + t)`` where ``t`` other answers tie at ``x`` (a uniform
    tie-break). Groups smaller than ``x`` can never reach it, so they merge with the abstainers
    into one free pool (Vandermonde's identity); only the competitive groups need the DP.
    """
    free = abstain + sum(s for s in others if s < x)
    rivals = [s for s in others if s >= x]
    # dp[j, t]: ways to pick j samples from the rivals seen so far with t of them at exactly x.
    dp = np.zeros((r + 1, len(rivals) + 1))
    dp[0, 0] = 1.0
    for size in rivals:
        new = np.zeros_like(dp)
        for y in range(min(x, r) + 1):
            weight = math.comb(size, y)
            if y == x:
                new[y:, 1:] += weight * dp[: r + 1 - y, :-1]
            else:
                new[y:, :] += weight * dp[: r + 1 - y, :]
        dp = new
    fill = np.array([math.comb(free, r - j) for j in range(r + 1)], dtype=float)
    ties = 1.0 / np.arange(1, len(rivals) + 2)
    return float(fill @ dp @ ties)


def _maj_monte_carlo(groups: VoteGroups, k: int, seed: int) -> float:
    labels = np.repeat(np.arange(len(groups.sizes) + 1), [*groups.sizes, groups.abstain])
    rng = np.random.default_rng(seed)
    correct = np.array([*groups.correct, False])
    wins = 0.0
    for _ in range(MONTE_CARLO_DRAWS):
        picked = rng.choice(labels, size=k, replace=False)
        counts = np.bincount(picked, minlength=len(correct))[:-1]  # abstainers do not vote
        top = counts.max()
        if top == 0:
            continue
        leaders = np.flatnonzero(counts == top)
        wins += correct[leaders].mean()
    return wins / MONTE_CARLO_DRAWS


def k_grid(n: int) -> list[int]:
    """The k values of a scaling curve: powers of two up to ``n``, and ``n`` itself."""
    if n < 1:
        return []
    grid = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    if grid[-1] != n:
        grid.append(n)
    return grid


# --- intervals over tasks -----------------------------------------------------------------------

Z_95 = 1.959963984540054


def confidence_interval(
    values: Iterable[float],
    *,
    method: str = "bootstrap",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """An interval for the mean of per-task values: percentile bootstrap or normal approximation."""
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1 or np.all(data == data[0]):
        return (float(data.mean()), float(data.mean()))
    if method == "normal":
        z = Z_95 if level == 0.95 else _normal_quantile(0.5 + level / 2)
        half = z * data.std(ddof=1) / math.sqrt(data.size)
        return (float(data.mean() - half), float(data.mean() + half))
    if method != "bootstrap":
        raise ValueError(f"ci method must be 'bootstrap' or 'normal', got {method!r}")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def paired_difference_interval(
    a: Sequence[float],
    b: Sequence[float],
    *,
    paired: bool,
    method: str = "bootstrap",
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``mean(b) - mean(a)`` and its interval; paired values share a task, unpaired ones do not."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return (math.nan, math.nan, math.nan)
    diff = float(xb.mean() - xa.mean())
    if paired:
        if xa.size != xb.size:
            raise ValueError("paired values need the same number of tasks on both sides")
        low, high = confidence_interval(xb - xa, method=method, resamples=resamples, seed=seed)
        return (diff, low, high)
    if method == "normal":
        var = sum(x.var(ddof=1) / x.size if x.size > 1 else 0.0 for x in (xa, xb))
        half = Z_95 * math.sqrt(var)
        return (diff, diff - half, diff + half)
    rng = np.random.default_rng(seed)
    ma = xa[rng.integers(0, xa.size, size=(resamples, xa.size))].mean(axis=1)
    mb = xb[rng.integers(0, xb.size, size=(resamples, xb.size))].mean(axis=1)
    low, high = np.percentile(mb - ma, [2.5, 97.5])
    return (diff, float(low), float(high))


def _normal_quantile(p: float) -> float:
    """The standard normal quantile, by bisection on ``erf`` (no scipy needed)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many samples ended with each verdict status, most frequent first."""
    return dict(Counter(statuses).most_common())
