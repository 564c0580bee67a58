import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlvr_envs.evaluation import metrics
from rlvr_envs.evaluation.metrics import (
    confidence_interval,
    k_grid,
    maj_at_k,
    paired_difference_interval,
    pass_at_k,
    pass_at_k_curve,
    vote_groups,
)


def closed_form(n, c, k):
    return 1 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 1, 0.4),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (5, 2, 3, 0.9),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
        (5, 2, 4, 1.0),  # fewer than k wrong samples: every k-subset holds a correct one
        (10, 0, 5, 0.0),
        (10, 10, 1, 1.0),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (8, 3, 4, 1 - 5 / 70),  # C(5,4) = 5, C(8,4) = 70
    ],
)
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 120).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))
    )
)
def test_pass_at_k_matches_the_closed_form(args):
    n, c, k = args
    assert pass_at_k(n, c, k) == pytest.approx(closed_form(n, c, k), abs=1e-9)


def test_pass_at_k_large_n_is_stable():
    # C(2000, 1000) overflows a float; the product form does not need it.
    assert 0 < pass_at_k(2000, 3, 1000) < 1
    assert pass_at_k(2000, 3, 1) == pytest.approx(3 / 2000)


def test_pass_at_k_curve_is_monotone():
    curve = pass_at_k_curve(16, 3)
    assert len(curve) == 16 and all(b >= a for a, b in zip(curve, curve[1:]))
    assert curve[0] == pytest.approx(3 / 16) and curve[-1] == 1.0


@pytest.mark.parametrize(
    "n, c, k, error",
    [(0, 0, 1, ValueError), (5, 6, 1, ValueError), (5, 2, 0, ValueError), (5, 2, 6, ValueError)],
)
def test_pass_at_k_rejects_bad_counts(n, c, k, error):
    with pytest.raises(error):
        pass_at_k(n, c, k)


def test_pass_at_k_rejects_non_integers():
    with pytest.raises(TypeError):
        pass_at_k(5.0, 2, 1)


# --- maj@k ----------------------------------------------------------------------------------------


def brute_force_maj(answers, correct, k):
    """Average over every k-subset of majority-vote correctness, ties split evenly."""
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(answers)), k))
    for subset in subsets:
        votes = {}
        for i in subset:
            if answers[i] is not None:
                votes.setdefault(answers[i], []).append(correct[i])
        if not votes:
            continue
        top = max(len(v) for v in votes.values())
        leaders = [v for v in votes.values() if len(v) == top]
        total += Fraction(sum(1 for v in leaders if v[0]), len(leaders))
    return float(total / len(subsets))


def test_maj_at_k_constructed_cases():
    # A is right twice, B wrong once.
    answers, ok = ["A", "A", "B"], [True, True, False]
    assert maj_at_k(answers, ok, 1) == pytest.approx(2 / 3)
    # {A,A} wins; {A,B} (two subsets) ties and wins half the time: (1 + 1/2 + 1/2) / 3.
    assert maj_at_k(answers, ok, 2) == pytest.approx(2 / 3)
    assert maj_at_k(answers, ok, 3) == 1.0
    # The wrong answer is the majority.
    answers, ok = ["A", "B", "B"], [True, False, False]
    assert maj_at_k(answers, ok, 1) == pytest.approx(1 / 3)
    assert maj_at_k(answers, ok, 2) == pytest.approx(1 / 3)
    assert maj_at_k(answers, ok, 3) == 0.0
    # A two-way tie over all samples.
    assert maj_at_k(["7", "8"], [True, False], 2) == pytest.approx(0.5)
    # Everyone agrees.
    assert all(maj_at_k(["5"] * 4, [True] * 4, k) == 1.0 for k in range(1, 5))
    assert all(maj_at_k(["5"] * 4, [False] * 4, k) == 0.0 for k in range(1, 5))


def test_maj_at_k_samples_without_an_answer_do_not_vote():
    assert maj_at_k(["A", None], [True, False], 1) == pytest.approx(0.5)
    assert maj_at_k(["A", None], [True, False], 2) == 1.0  # the lone vote wins
    assert maj_at_k([None, None], [False, False], 2) == 0.0
    # Two blanks cannot outvote one answer: maj@3 is a plain majority among voters.
    assert maj_at_k(["A", None, None], [True, False, False], 3) == 1.0


def test_maj_at_k_groups_by_whitespace_normalised_answer():
    assert maj_at_k(["1 / 2", "1/2 ", " 1 /  2", "3"], [True, True, True, False], 4) == 1.0
    # With equivalence turned off, different spellings of one value are different votes.
    three_way = maj_at_k(["1/2", "0.5", "3"], [True, True, False], 3, equivalent=None)
    assert three_way == pytest.approx(2 / 3)


def test_maj_at_k_votes_by_equivalence_class():
    # Issue 14: three right answers in two spellings used to lose to two identical wrong ones.
    answers = [r"\frac{1}{2}", "0.5", r"\frac{1}{2}", "3", "3"]
    correct = [True, True, True, False, False]
    assert maj_at_k(answers, correct, 5) == 1.0
    assert maj_at_k(answers, correct, 5, equivalent=None) == pytest.approx(0.5)  # a 2-2 tie
    assert maj_at_k(["1/2", "0.5", "3"], [True, True, False], 3) == 1.0
    # Not merged: different values, a decimal approximation, an unordered set vs a tuple.
    groups = vote_groups(["2", "2.0", "3", "3.14", r"\pi", "(1, 2)", r"\{1, 2\}"], [False] * 7)
    assert sorted(groups.sizes) == [1, 1, 1, 1, 1, 2]


def test_vote_grouping_does_not_depend_on_sample_order():
    answers = ["0.5", "3", r"\frac{1}{2}", "1/2", "3.0", None]
    correct = [True, False, True, True, False, False]
    expected = vote_groups(answers, correct)
    rng = np.random.default_rng(0)
    for _ in range(10):
        order = rng.permutation(len(answers))
        groups = vote_groups([answers[i] for i in order], [correct[i] for i in order])
        assert sorted(zip(groups.sizes, groups.correct)) == sorted(
            zip(expected.sizes, expected.correct)
        )
    assert sorted(expected.sizes) == [2, 3] and expected.abstain == 1


def test_maj_at_k_of_all_samples_is_the_plain_majority():
    answers = ["4", "4", "5", "4", "6", None, "5"]
    correct = [a == "4" for a in answers]
    assert maj_at_k(answers, correct, len(answers)) == 1.0
    correct = [a == "5" for a in answers]
    assert maj_at_k(answers, correct, len(answers)) == 0.0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=9),
    st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=2),
    st.data(),
)
def test_maj_at_k_matches_brute_force(answers, right, data):
    correct = [a in right for a in answers]
    k = data.draw(st.integers(1, len(answers)))
    assert maj_at_k(answers, correct, k) == pytest.approx(
        brute_force_maj(answers, correct, k), abs=1e-9
    )


# Spellings of four values: each answer's class is its value, the ground truth the brute force
# votes on; maj_at_k must find the same classes with the verifier's comparison.
SPELLINGS = {
    r"\frac{1}{2}": "half",
    "0.5": "half",
    "1/2": "half",
    "2/4": "half",
    "3": "three",
    "3.0": "three",
    r"\frac{6}{2}": "three",
    "x+1": "x+1",
    "1+x": "x+1",
    r"\sqrt{2}": "root2",
}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([*SPELLINGS, None]), min_size=1, max_size=8),
    st.sets(st.sampled_from(sorted(set(SPELLINGS.values()))), max_size=2),
    st.data(),
)
def test_maj_at_k_over_equivalence_classes_matches_brute_force(answers, right, data):
    classes = [SPELLINGS.get(a) for a in answers]
    correct = [c in right for c in classes]
    k = data.draw(st.integers(1, len(answers)))
    assert maj_at_k(answers, correct, k) == pytest.approx(
        brute_force_maj(classes, correct, k), abs=1e-9
    )


def test_maj_at_k_monte_carlo_path_agrees_with_exact(monkeypatch):
    rng = np.random.default_rng(3)
    answers = [str(x) for x in rng.choice(5, size=30, p=[0.35, 0.3, 0.15, 0.1, 0.1])]
    correct = [a == "0" for a in answers]
    exact = maj_at_k(answers, correct, 9)
    monkeypatch.setattr(metrics, "EXACT_MAJ_LIMIT", 10)
    assert maj_at_k(answers, correct, 9) == pytest.approx(exact, abs=0.02)


def test_maj_at_k_rejects_bad_input():
    with pytest.raises(ValueError):
        maj_at_k(["a"], [True, False], 1)
    with pytest.raises(ValueError):
        maj_at_k(["a", "b"], [True, False], 3)


def test_k_grid():
    assert k_grid(1) == [1]
    assert k_grid(8) == [1, 2, 4, 8]
    assert k_grid(6) == [1, 2, 4, 6]
    assert k_grid(0) == []


# --- intervals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bootstrap", "normal"])
def test_confidence_interval_brackets_the_mean(method):
    values = np.random.default_rng(0).random(200)
    low, high = confidence_interval(values, method=method)
    assert low < values.mean() < high
    assert high - low < 0.2


def test_normal_interval_matches_the_formula():
    values = [0.0, 1.0, 1.0, 0.0, 1.0]
    low, high = confidence_interval(values, method="normal")
    half = 1.959963984540054 * np.std(values, ddof=1) / math.sqrt(5)
    assert (low, high) == pytest.approx((0.6 - half, 0.6 + half))
    # Another level uses the matching quantile.
    low99, high99 = confidence_interval(values, method="normal", level=0.99)
    assert high99 - low99 == pytest.approx(2 * 2.5758293 * np.std(values, ddof=1) / math.sqrt(5))


def test_confidence_interval_edge_cases():
    assert confidence_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(x) for x in confidence_interval([]))
    with pytest.raises(ValueError, match="bootstrap"):
        confidence_interval([0.0, 1.0], method="jackknife")


def test_confidence_interval_is_seeded():
    values = np.random.default_rng(1).random(50)
    assert confidence_interval(values, seed=4) == confidence_interval(values, seed=4)


def test_paired_difference_interval():
    a = np.array([0.0, 0.5, 1.0, 0.0, 0.5] * 20)
    b = a + 0.1
    diff, low, high = paired_difference_interval(a, b, paired=True)
    assert diff == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    diff, low, high = paired_difference_interval(a, b, paired=False)
    assert low < 0.1 < high and high - low > 0.15  # unpaired: the task spread shows
    diff, low, high = paired_difference_interval(a, b[:50], paired=False, method="normal")
    assert low < diff < high
    with pytest.raises(ValueError):
        paired_difference_interval(a, b[:5], paired=True)
