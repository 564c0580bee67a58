"""The Ray executor against a local Ray instance: the same summary as the local executor."""

import pytest

from rlvr_envs.evaluation import RayExecutor, Suite, SuiteEntry, evaluate, read_records

from . import toy_agents

ray = pytest.importorskip("ray")

TOY = "python:tests.evaluation.toy_agents:arithmetic_solver"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _suite():
    return Suite(
        "ray-mini",
        (
            SuiteEntry("rlvr/Arithmetic-v1", {"level": "mixed"}, tasks=10, samples=4),
            SuiteEntry("rlvr/Arithmetic-v1", {"level": 2}, tasks=6, samples=2, name="level2"),
        ),
    )


def _comparable(summary):
    return {k: v for k, v in summary.items() if k not in ("timing", "files")}


@pytest.mark.slow
def test_ray_executor_gives_the_local_summary(tmp_path, local_ray):
    local = evaluate(_suite(), TOY, tmp_path / "local", seed=3, progress=False, plots=False)
    remote = evaluate(
        _suite(),
        TOY,
        tmp_path / "ray",
        seed=3,
        executor=RayExecutor(batch_size=4),
        progress=False,
        plots=False,
    )
    assert remote["timing"]["executor"] == "ray"
    assert _comparable(remote) == _comparable(local)
    local_records = {r["key"]: r for r in read_records(tmp_path / "local/samples.jsonl")}
    ray_records = {r["key"]: r for r in read_records(tmp_path / "ray/samples.jsonl")}
    assert local_records.keys() == ray_records.keys()
    for key, record in local_records.items():
        assert ray_records[key]["completion"] == record["completion"]
        assert ray_records[key]["verdict"]["status"] == record["verdict"]["status"]


@pytest.mark.slow
def test_ray_executor_resumes_and_takes_agent_objects(tmp_path, local_ray):
    out = tmp_path / "run"
    executor = RayExecutor(batch_size=3, workers=2)
    first = evaluate(_suite(), toy_agents.CountingAgent(), out, executor=executor, progress=False)
    assert first["environments"]["rlvr/Arithmetic-v1"]["mean_reward"] == 1.0
    lines = (out / "samples.jsonl").read_text().splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join(lines[:10]))
    again = evaluate(_suite(), toy_agents.CountingAgent(), out, executor=executor, progress=False)
    assert _comparable(again) == _comparable(first)
    keys = [r["key"] for r in read_records(out / "samples.jsonl")]
    assert len(keys) == len(set(keys)) == 52
