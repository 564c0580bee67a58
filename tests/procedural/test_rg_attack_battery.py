"""The generic reward-hacking battery (``rg_attacks.py``) over every reasoning-gym environment."""

from __future__ import annotations

import pytest

pytest.importorskip("reasoning_gym")

from rlvr_envs.integrations.reasoning_gym import REGISTERED  # noqa: E402

from .rg_attacks import BENIGN, HACKS, Payout, attacks, format_table, run_all  # noqa: E402

TASKS = 8  # per generator (3 for those scored in a worker process): about 30 s in all


@pytest.mark.slow
def test_no_generic_attack_pays_on_any_generator():
    results = run_all(REGISTERED, TASKS)
    table = format_table(results)
    hacks = [p for r in results for p in r.hacks()]
    assert not hacks, f"{table}\n" + "\n".join(
        f"{p.generator} {p.kind} task {p.task}: {p.completion[:120]!r} (reference "
        f"{p.reference[:60]!r})"
        for p in hacks[:20]
    )
    faults = [(r.generator, f) for r in results for f in r.faults]
    assert not faults, faults[:10]
    mutated = [r.generator for r in results if r.mutated]
    assert not mutated, f"scorers changed the items they graded: {mutated}"
    assert sum(r.attempts for r in results) > 50_000


def test_the_battery_builds_every_kind_of_attack():
    kinds = attacks(
        'Sort "b, a" like e.g. a, b.\nGive <answer>x</answer>', "a, b", ["a, b", "c"], "c", "c"
    )
    assert set(HACKS) <= set(kinds)
    assert "<answer>c or a, b</answer>" in kinds["hedge_right_last"]
    assert kinds["all_references"][0] == "<answer>c, a, b</answer>"  # the right one last


def test_a_payout_is_a_hack_unless_lenient_validated_or_known_benign():
    assert Payout("chain_sum", "other_reference", 0, "", "").is_hack
    assert not Payout("chain_sum", "extra_text", 0, "", "").is_hack
    assert not Payout("sokoban", "other_reference", 0, "", "").is_hack
    assert not Payout("coin_flip", "half_reference", 0, "", "").is_hack
    generator, kind = next(iter(BENIGN))
    assert not Payout(generator, kind, 0, "", "").is_hack
