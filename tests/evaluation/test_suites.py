import json
from pathlib import Path

import gymnasium as gym
import pytest

from rlvr_envs.evaluation import (
    MissingEnvironmentError,
    Suite,
    SuiteEntry,
    SuiteError,
    get_suite,
    list_suites,
    load_suite,
    plan_suite,
    register_suite,
)
from rlvr_envs.evaluation.suites import PROVIDERS, suite_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "suites"


def test_builtin_suites():
    names = {s.name for s in list_suites()}
    assert {"math-quick", "code-quick", "format-quick", "core"} <= names
    core = get_suite("core")
    assert [e.env for e in core.entries] == [
        "rlvr/GSM8K-v1",
        "rlvr/MATH500-v1",
        "rlvr/HumanEval-v0",
        "rlvr/MBPP-v0",
        "rlvr/IFEval-v0",
    ]
    assert all(e.tasks is None for e in core.entries)  # every task
    assert [e.env for e in get_suite("code-quick").entries] == [
        "rlvr/CodeIO-v0",
        "rlvr/HumanEval-v0",
    ]
    assert [e.env for e in get_suite("format-quick").entries] == [
        "rlvr/InstructionFollowing-v1",
        "rlvr/JSONFormat-v0",
    ]


def test_math_quick_plans_offline_without_a_data_dir(monkeypatch):
    monkeypatch.delenv("RLVR_ENVS_DATA_DIR", raising=False)
    plan = plan_suite(get_suite("math-quick"), seed=0, agent="x")
    entries = {e["label"]: e for e in plan["entries"]}
    assert len(entries["rlvr/Arithmetic-v1"]["task_ids"]) == 24
    assert len(entries["rlvr/Algebra-v1"]["task_ids"]) == 16
    # GSM8K needs a local copy: skipped at once, without trying the hub.
    assert "RLVR_ENVS_DATA_DIR" in entries["rlvr/GSM8K-v1"]["skipped"]
    assert entries["rlvr/Arithmetic-v1"]["maj"] is True  # a math environment votes


def test_math_quick_uses_local_gsm8k_when_available(shared_data, monkeypatch):
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(shared_data))
    plan = plan_suite(get_suite("math-quick"), seed=0, agent="x")
    gsm8k = next(e for e in plan["entries"] if e["env"] == "rlvr/GSM8K-v1")
    assert gsm8k["task_ids"] == [f"gsm8k/test/{i}" for i in range(16)]


@pytest.mark.parametrize(
    "suite, env_id",
    [
        ("code-quick", "rlvr/HumanEval-v0"),
        ("format-quick", "rlvr/JSONFormat-v0"),
        ("core", "rlvr/IFEval-v0"),
    ],
)
def test_suites_with_unregistered_environments_fail_clearly(suite, env_id, monkeypatch):
    # As in an installation (or a branch) that lacks the part of rlvr-envs providing env_id.
    monkeypatch.delitem(gym.registry, env_id, raising=False)
    with pytest.raises(MissingEnvironmentError) as info:
        plan_suite(get_suite(suite), seed=0, agent="x")
    message = str(info.value)
    assert env_id in message and PROVIDERS[env_id] in message


def test_unknown_environment_in_a_suite():
    suite = Suite("s", (SuiteEntry("rlvr/NoSuchThing-v0"),))
    with pytest.raises(MissingEnvironmentError, match="rlvr-envs list"):
        plan_suite(suite, seed=0, agent="x")
    suite = Suite("s", (SuiteEntry("no_such_module:Thing-v0"),))
    with pytest.raises(MissingEnvironmentError, match="no_such_module"):
        plan_suite(suite, seed=0, agent="x")


def test_optional_entries_are_skipped_with_the_reason():
    suite = Suite(
        "s",
        (
            SuiteEntry("rlvr/Arithmetic-v1", tasks=2),
            SuiteEntry("rlvr/HumanEval-v0", optional=True)
            if "rlvr/HumanEval-v0" not in gym.registry
            else SuiteEntry("rlvr/NoSuchThing-v0", optional=True),
        ),
    )
    plan = plan_suite(suite, seed=0, agent="x")
    assert "not registered" in plan["entries"][1]["skipped"]


def test_bad_env_kwargs_fail_clearly():
    suite = Suite("s", (SuiteEntry("rlvr/Arithmetic-v1", {"level": 9}, tasks=2),))
    with pytest.raises(SuiteError, match="level must be one of"):
        plan_suite(suite, seed=0, agent="x")


def test_procedural_environment_needs_a_task_count():
    suite = Suite("s", (SuiteEntry("rlvr/Arithmetic-v1", tasks=None),))
    with pytest.raises(SuiteError, match="procedural"):
        plan_suite(suite, seed=0, agent="x")


def test_procedural_tasks_are_a_held_out_seeded_list():
    entry = SuiteEntry("rlvr/Arithmetic-v1", {"level": 2}, tasks=5, task_seed=3)
    first = plan_suite(Suite("s", (entry,)), seed=0, agent="x")["entries"][0]["task_ids"]
    again = plan_suite(Suite("s", (entry,)), seed=0, agent="x")["entries"][0]["task_ids"]
    source = gym.make("rlvr/Arithmetic-v1", level=2).unwrapped.source
    assert first == again == [t.id for t in source.take(5, seed=3)]


def test_dataset_tasks_first_n_or_a_seeded_shuffle(shared_data, monkeypatch):
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(shared_data))
    plain = Suite("s", (SuiteEntry("rlvr/GSM8K-v1", tasks=3),))
    assert plan_suite(plain, seed=0, agent="x")["entries"][0]["task_ids"] == [
        "gsm8k/test/0",
        "gsm8k/test/1",
        "gsm8k/test/2",
    ]
    shuffled = Suite("s", (SuiteEntry("rlvr/GSM8K-v1", tasks=3, shuffle=True, task_seed=5),))
    ids = plan_suite(shuffled, seed=0, agent="x")["entries"][0]["task_ids"]
    assert len(set(ids)) == 3 and ids != ["gsm8k/test/0", "gsm8k/test/1", "gsm8k/test/2"]
    assert ids == plan_suite(shuffled, seed=0, agent="x")["entries"][0]["task_ids"]


def test_entry_validation():
    with pytest.raises(SuiteError, match="samples"):
        SuiteEntry("rlvr/Arithmetic-v1", samples=0)
    with pytest.raises(SuiteError, match="tasks"):
        SuiteEntry("rlvr/Arithmetic-v1", tasks=-1)
    with pytest.raises(SuiteError, match="unknown sampling setting 'temprature'"):
        SuiteEntry("rlvr/Arithmetic-v1", sampling={"temprature": 0.5})
    with pytest.raises(SuiteError, match="seed"):
        SuiteEntry("rlvr/Arithmetic-v1", sampling={"seed": 1})
    with pytest.raises(SuiteError, match="samples"):
        SuiteEntry("rlvr/Arithmetic-v1", sampling={"n": 4})
    with pytest.raises(SuiteError, match="categories"):
        SuiteEntry("rlvr/Arithmetic-v1", categories="level")
    entry = SuiteEntry("rlvr/Arithmetic-v1", sampling={"max_tokens": 64, "stop": "\n\n"})
    assert entry.sampling == {"max_new_tokens": 64, "stop": ["\n\n"]}


def test_duplicate_entries_need_names():
    with pytest.raises(SuiteError, match="distinct 'name'"):
        Suite("s", (SuiteEntry("rlvr/Arithmetic-v1"), SuiteEntry("rlvr/Arithmetic-v1")))
    Suite(
        "s",
        (SuiteEntry("rlvr/Arithmetic-v1"), SuiteEntry("rlvr/Arithmetic-v1", name="second")),
    )
    with pytest.raises(SuiteError, match="no environments"):
        Suite("s", ())


def test_fingerprint_changes_with_what_changes_samples():
    base = SuiteEntry("rlvr/Arithmetic-v1", {"level": 2}, sampling={"temperature": 0.5})
    assert base.fingerprint(0) == SuiteEntry(
        "rlvr/Arithmetic-v1", {"level": 2}, sampling={"temperature": 0.5}, tasks=99
    ).fingerprint(0)
    others = [
        SuiteEntry("rlvr/Arithmetic-v1", {"level": 3}, sampling={"temperature": 0.5}),
        SuiteEntry("rlvr/Arithmetic-v1", {"level": 2}, sampling={"temperature": 0.6}),
    ]
    assert all(o.fingerprint(0) != base.fingerprint(0) for o in others)
    assert base.fingerprint(1) != base.fingerprint(0)


def test_overrides():
    suite = get_suite("math-quick").with_overrides(
        tasks=3, samples=2, sampling={"temperature": 0.1}, only=["rlvr/Arithmetic-v1"]
    )
    (entry,) = suite.entries
    assert entry.tasks == 3 and entry.samples == 2 and entry.sampling["temperature"] == 0.1
    assert entry.sampling["max_new_tokens"] == 1024  # the rest is kept
    with pytest.raises(SuiteError, match="no entry"):
        get_suite("math-quick").with_overrides(only=["nope"])


def test_suite_files_yaml_and_json(tmp_path):
    data = {
        "name": "mine",
        "defaults": {"samples": 3, "sampling": {"temperature": 0.2}},
        "environments": [
            {"env": "rlvr/Arithmetic-v1", "kwargs": {"level": 1}, "tasks": 4},
            {
                "env": "rlvr/Algebra-v1",
                "name": "alg",
                "samples": 5,
                "sampling": {"max_new_tokens": 99},
                "categories": ["kind"],
            },
        ],
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    suite = load_suite(path)
    assert suite.name == "mine"
    first, second = suite.entries
    assert (first.samples, first.tasks, dict(first.sampling)) == (3, 4, {"temperature": 0.2})
    assert second.label == "alg" and second.samples == 5
    assert dict(second.sampling) == {"temperature": 0.2, "max_new_tokens": 99}
    assert second.categories == ("kind",)
    # Round trip through the file format.
    assert suite_from_dict(suite.to_dict()) == suite

    yaml = pytest.importorskip("yaml")
    ypath = tmp_path / "mine.yaml"
    ypath.write_text(yaml.safe_dump(data))
    assert get_suite(str(ypath)) == suite


@pytest.mark.parametrize(
    "content, match",
    [
        ("{", "not valid JSON"),
        ("[]", "mapping"),
        ('{"environments": []}', "non-empty"),
        ('{"environments": [{"kwargs": {}}]}', "no 'env'"),
        ('{"environments": [{"env": "x", "task": 3}]}', "unknown key"),
        ('{"environments": [{"env": "x", "tasks": "many"}]}', "number or 'all'"),
        ('{"environment": []}', "unknown suite key"),
    ],
)
def test_bad_suite_files(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SuiteError, match=match):
        load_suite(path)


def test_unknown_suite_name_and_missing_file():
    with pytest.raises(SuiteError, match="unknown suite 'nope'"):
        get_suite("nope")
    with pytest.raises(SuiteError, match="no such suite file"):
        get_suite("missing.yaml")


def test_register_suite():
    suite = Suite("test-registered", (SuiteEntry("rlvr/Arithmetic-v1", tasks=2),))
    register_suite(suite)
    assert get_suite("test-registered") is suite
    with pytest.raises(SuiteError, match="already registered"):
        register_suite(suite)
    register_suite(suite, overwrite=True)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*")), ids=lambda p: p.name)
def test_example_suites_load(path):
    pytest.importorskip("yaml")
    suite = load_suite(path)
    assert suite.entries and all(e.env.startswith("rlvr/") for e in suite.entries)
