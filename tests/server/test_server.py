"""The environment server: OpenEnv frames and endpoints, limits, bad input, auth, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path

import gymnasium as gym
import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rlvr_envs.server import ServerConfig

from .conftest import serve_in_thread
from .envs import EchoEnv

ARITH = "rlvr/Arithmetic-v0"


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


def ask(ws, frame) -> dict:
    ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(ws.recv(timeout=10))


@pytest.fixture(scope="module")
def arithmetic_server():
    with serve_in_thread(ServerConfig(env_id=ARITH, max_sessions=64)) as (url, app):
        yield url, app


def test_websocket_episode_matches_a_local_one(arithmetic_server):
    url, _ = arithmetic_server
    local = gym.make(ARITH)
    prompt, info = local.reset(seed=7)
    completion = f"\\boxed{{{info['metadata']['expression']}}}"
    _, reward, terminated, truncated, step_info = local.step("The answer is \\boxed{12}")
    with connect(ws_url(url)) as ws:
        reply = ask(ws, {"type": "reset", "data": {"seed": 7, "episode_id": "ep-1"}})
        assert reply["type"] == "observation"
        observation = reply["data"]["observation"]
        assert observation["prompt"] == prompt and observation["task_id"] == info["task_id"]
        assert observation["verdict"] is None and reply["data"]["done"] is False
        assert reply["data"]["reward"] is None
        reply = ask(ws, {"type": "step", "data": {"message": "The answer is \\boxed{12}"}})
        data = reply["data"]
        assert data["reward"] == reward and data["done"] is (terminated or truncated)
        assert data["observation"]["verdict"]["status"] == step_info["verdict"]["status"]
        assert data["observation"]["verdict"]["reason"] == step_info["verdict"]["reason"]
        assert data["observation"]["reward_components"] == step_info["reward_components"]
        assert data["observation"]["task_id"] == info["task_id"]
        state = ask(ws, {"type": "state"})
        assert state["type"] == "state"
        assert state["data"]["episode_id"] == "ep-1" and state["data"]["step_count"] == 1
        assert state["data"]["done"] is True and state["data"]["env_id"] == ARITH
        ws.send(json.dumps({"type": "close"}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert completion  # the seed picked a real task


def test_reset_options_pick_a_task(arithmetic_server):
    url, _ = arithmetic_server
    task = {"id": "t1", "prompt": "What is 2 + 2?", "answer": "4"}
    with connect(ws_url(url)) as ws:
        reply = ask(ws, {"type": "reset", "data": {"options": {"task": task}}})
        assert reply["data"]["observation"]["task_id"] == "t1"
        reply = ask(ws, {"type": "step", "data": {"message": "\\boxed{4}"}})
        assert reply["data"]["reward"] == 1.0
        assert reply["data"]["observation"]["verdict"]["status"] == "correct"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ("[1, 2]", "VALIDATION_ERROR"),
        ({"type": "dance"}, "UNKNOWN_TYPE"),
        ({"type": "step", "data": {"text": "hi"}}, "VALIDATION_ERROR"),
        ({"type": "step", "data": {"message": 5}}, "VALIDATION_ERROR"),
        ({"type": "step", "data": "hi"}, "VALIDATION_ERROR"),
        ({"type": "reset", "data": {"seed": -1}}, "VALIDATION_ERROR"),
        ({"type": "reset", "data": {"options": {"colour": "red"}}}, "VALIDATION_ERROR"),
        ({"type": "reset", "extra": 1}, "VALIDATION_ERROR"),
        ({"type": "step", "data": {"message": "hi"}}, "RESET_NEEDED"),
    ],
)
def test_bad_frames_get_error_frames_and_the_session_survives(arithmetic_server, frame, code):
    url, _ = arithmetic_server
    with connect(ws_url(url)) as ws:
        reply = ask(ws, frame)
        assert reply["type"] == "error" and reply["data"]["code"] == code, reply
        assert reply["data"]["message"]
        assert ask(ws, {"type": "reset", "data": {"seed": 1}})["type"] == "observation"


def test_step_after_the_episode_ended_needs_a_reset(arithmetic_server):
    url, _ = arithmetic_server
    with connect(ws_url(url)) as ws:
        ask(ws, {"type": "reset", "data": {"seed": 1}})
        ask(ws, {"type": "step", "data": {"message": "\\boxed{0}"}})
        reply = ask(ws, {"type": "step", "data": {"message": "\\boxed{0}"}})
        assert reply["data"]["code"] == "RESET_NEEDED"


def test_http_session_flow_and_descriptions(arithmetic_server):
    url, _ = arithmetic_server
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/health").json()["status"] == "healthy"
        metadata = http.get("/metadata").json()
        assert metadata["name"] == ARITH and metadata["description"]
        assert metadata["observation_space"]["type"] == "text"
        schema = http.get("/schema").json()
        assert schema["action"]["required"] == ["message"]
        assert {"prompt", "verdict", "task_id"} <= set(schema["observation"]["properties"])
        assert "episode_id" in schema["state"]["properties"]
        assert http.get("/openapi.json").json()["info"]["version"] == "1.0.0"
        reset = http.post("/reset", json={"seed": 3}).json()
        session = reset["session_id"]
        assert reset["observation"]["prompt"] == gym.make(ARITH).reset(seed=3)[0]
        step = http.post("/step", json={"action": {"message": "\\boxed{1}"}, "session_id": session})
        assert step.status_code == 200 and step.json()["done"] is True
        assert step.json()["observation"]["verdict"]["status"] in ("wrong", "correct")
        assert http.get("/state", params={"session_id": session}).json()["step_count"] == 1
        again = http.post("/reset", json={"seed": 3, "session_id": session}).json()
        assert again["session_id"] == session
        assert http.post("/close", json={"session_id": session}).json()["closed"] is True
        gone = http.post("/step", json={"action": {"message": "x"}, "session_id": session})
        assert gone.status_code == 404 and gone.json()["code"] == "UNKNOWN_SESSION"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/reset", b"{oops", 400, "INVALID_JSON"),
        ("/step", b'{"action": {"message": "x"}}', 422, "VALIDATION_ERROR"),
        ("/step", b'{"action": {"msg": "x"}, "session_id": "a"}', 422, "VALIDATION_ERROR"),
        ("/reset", b'{"seed": "soon"}', 422, "VALIDATION_ERROR"),
        ("/reset", b'{"task_id": "nope"}', 422, "VALIDATION_ERROR"),
        ("/step", b'{"action": {"message": "x"}, "session_id": "none"}', 404, "UNKNOWN_SESSION"),
    ],
)
def test_bad_http_requests_get_4xx(arithmetic_server, path, body, status, code):
    url, app = arithmetic_server
    before = app.state.manager.active
    answer = httpx.post(url + path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.json()["detail"]
    assert app.state.manager.active == before  # a failed reset leaves no session behind


def test_mcp_tools_over_http(arithmetic_server):
    url, app = arithmetic_server

    def rpc(method, params=None, rid=1):
        body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        return httpx.post(url + "/mcp", json=body).json()

    assert rpc("initialize")["result"]["capabilities"]["tools"] == {"listChanged": False}
    names = [t["name"] for t in rpc("tools/list")["result"]["tools"]]
    assert names == ["reset", "step", "state"]
    reset = rpc("tools/call", {"name": "reset", "arguments": {"seed": 5}})["result"]
    assert reset["isError"] is False
    session = reset["structuredContent"]["session_id"]
    assert json.loads(reset["content"][0]["text"])["observation"]["prompt"]
    step = rpc(
        "tools/call",
        {"name": "step", "arguments": {"message": "\\boxed{1}", "session_id": session}},
    )
    assert step["result"]["structuredContent"]["done"] is True
    again = rpc(
        "tools/call", {"name": "step", "arguments": {"message": "x"}, "session_id": session}
    )
    assert again["result"]["isError"] is True
    assert again["result"]["structuredContent"]["code"] == "RESET_NEEDED"
    assert (
        rpc("tools/call", {"name": "step", "arguments": {"message": "x"}})["error"]["code"]
        == -32602
    )
    assert rpc("tools/call", {"name": "fly"})["error"]["code"] == -32602
    before = app.state.manager.active
    bad = rpc("tools/call", {"name": "reset", "arguments": {"options": {"colour": "red"}}})
    assert bad["result"]["isError"] is True
    assert (
        rpc("tools/call", {"name": "reset", "arguments": {"seed": -1}})["error"]["code"] == -32602
    )
    assert app.state.manager.active == before  # failed resets leave no session behind
    assert rpc("resources/list")["error"]["code"] == -32601
    assert rpc("openenv/session/close", {"session_id": session})["result"]["closed"] is True
    assert httpx.post(url + "/mcp", content=b"{").json()["error"]["code"] == -32700
    assert httpx.post(url + "/mcp", json={}).json()["error"]["code"] == -32600
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx.post(url + "/mcp", json=notification).status_code == 202


@pytest.mark.slow  # importing openenv's MCP client (fastmcp) takes several seconds
def test_mcp_with_openenvs_client(arithmetic_server):
    from openenv.core.mcp_client import MCPToolClient

    url, _ = arithmetic_server

    async def run():
        client = MCPToolClient(base_url=url)
        client.use_production_mode = True  # HTTP /mcp with an openenv session
        try:
            tools = await client.list_tools()
            reset = await client.call_tool("reset", seed=2)
            step = await client.call_tool("step", message="\\boxed{2}")
            return tools, reset, step
        finally:
            await client.close()

    tools, reset, step = asyncio.run(run())
    assert [t.name for t in tools] == ["reset", "step", "state"]
    assert reset["structuredContent"]["observation"]["prompt"]
    assert step["structuredContent"]["observation"]["verdict"]["status"] in ("correct", "wrong")


def test_mcp_frame_on_the_websocket_uses_the_connections_session(arithmetic_server):
    url, _ = arithmetic_server
    with connect(ws_url(url)) as ws:
        call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call"}
        reply = ask(
            ws,
            {
                "type": "mcp",
                "data": {**call, "params": {"name": "reset", "arguments": {"seed": 4}}},
            },
        )
        assert reply["type"] == "mcp" and reply["data"]["id"] == 9
        assert "session_id" not in reply["data"]["result"]["structuredContent"]
        state = ask(ws, {"type": "state"})["data"]
        assert state["done"] is False and state["task_id"]


def test_capacity_reached_then_freed():
    with serve_in_thread(ServerConfig(env_id=ARITH, max_sessions=2)) as (url, app):
        with connect(ws_url(url)) as one, connect(ws_url(url)) as two:
            assert ask(one, {"type": "reset"})["type"] == "observation"
            assert ask(two, {"type": "reset"})["type"] == "observation"
            with connect(ws_url(url)) as three:
                reply = json.loads(three.recv(timeout=10))
                assert reply["type"] == "error" and reply["data"]["code"] == "CAPACITY_REACHED"
                with pytest.raises(ConnectionClosed) as closed:
                    three.recv(timeout=5)
                assert closed.value.rcvd.code == 1013
            answer = httpx.post(url + "/reset", json={})
            assert answer.status_code == 503 and answer.json()["code"] == "CAPACITY_REACHED"
        deadline = time.monotonic() + 5
        while app.state.manager.active and time.monotonic() < deadline:
            time.sleep(0.02)
        with connect(ws_url(url)) as again:
            assert ask(again, {"type": "reset"})["type"] == "observation"


def test_idle_sessions_expire():
    config = ServerConfig(env_id=ARITH, idle_timeout_s=0.3)
    with serve_in_thread(config) as (url, app):
        session = httpx.post(url + "/reset", json={}).json()["session_id"]
        with connect(ws_url(url)) as ws:
            ask(ws, {"type": "reset"})
            reply = json.loads(ws.recv(timeout=5))  # nothing sent: the server expires us
            assert reply["data"]["code"] == "SESSION_EXPIRED"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        time.sleep(0.3)
        answer = httpx.get(url + "/state", params={"session_id": session})
        assert answer.status_code == 404 and "expired" in answer.json()["detail"]
        assert app.state.manager.active == 0


def test_a_step_over_the_timeout_closes_the_session():
    envs: list[EchoEnv] = []

    def make_env():
        envs.append(EchoEnv(delay_s=0.6))
        return envs[-1]

    config = ServerConfig(env_id="servertest/Echo-v0", step_timeout_s=0.1)
    with serve_in_thread(config, make_env) as (url, app):
        with connect(ws_url(url)) as ws:
            ask(ws, {"type": "reset"})
            started = time.monotonic()
            reply = ask(ws, {"type": "step", "data": {"message": "x"}})
            assert time.monotonic() - started < 0.5
            assert reply["data"]["code"] == "STEP_TIMEOUT"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        time.sleep(0.7)
        assert envs[-1].closed  # closed once the stuck step returned
        assert app.state.manager.active == 0


def test_oversize_messages_are_refused():
    config = ServerConfig(env_id=ARITH, max_message_bytes=4096)
    with serve_in_thread(config) as (url, _):
        with connect(ws_url(url), max_size=None) as ws:
            ask(ws, {"type": "reset"})
            ws.send(json.dumps({"type": "step", "data": {"message": "9" * 10_000}}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd.code == 1009  # message too big
        body = {"action": {"message": "9" * 10_000}, "session_id": "x"}
        answer = httpx.post(url + "/step", json=body)
        assert answer.status_code == 413

        def chunks():
            yield b'{"action": {"message": "'
            for _ in range(10):
                yield b"9" * 1000
            yield b'"}, "session_id": "x"}'

        answer = httpx.post(url + "/step", content=chunks())  # chunked: no content-length
        assert answer.status_code == 413
        assert httpx.get(url + "/health").status_code == 200


def test_bearer_token_guards_everything_but_health():
    config = ServerConfig(env_id=ARITH, token="s3cret")
    with serve_in_thread(config) as (url, _):
        assert httpx.get(url + "/health").status_code == 200
        for path in ("/metadata", "/schema", "/openapi.json"):
            answer = httpx.get(url + path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert httpx.post(url + "/reset", json={}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.post(url + "/mcp", json={}, headers=wrong).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.post(url + "/reset", json={}, headers=good).status_code == 200
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(url), open_timeout=5)
        assert refused.value.response.status_code == 401
        with connect(ws_url(url), additional_headers=good) as ws:
            assert ask(ws, {"type": "reset"})["type"] == "observation"


def test_token_comes_from_the_environment_variable(monkeypatch):
    monkeypatch.setenv("RLVR_ENVS_TOKEN", "from-env")
    assert ServerConfig.with_env_token(env_id=ARITH).token == "from-env"
    assert ServerConfig.with_env_token(env_id=ARITH, token="flag").token == "flag"
    with pytest.raises(ValueError, match="empty token"):
        ServerConfig(env_id=ARITH, token=" ")


def test_graceful_shutdown_closes_every_session():
    envs: list[EchoEnv] = []

    def make_env():
        envs.append(EchoEnv())
        return envs[-1]

    config = ServerConfig(env_id="servertest/Echo-v0")
    with contextlib.ExitStack() as stack:
        with serve_in_thread(config, make_env) as (url, _):
            sockets = [stack.enter_context(connect(ws_url(url))) for _ in range(3)]
            for ws in sockets:
                ask(ws, {"type": "reset"})
            session = httpx.post(url + "/reset", json={}).json()["session_id"]
            assert session
        assert len(envs) == 5 and all(env.closed for env in envs)  # 4 sessions and the probe
        for ws in sockets:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)


@pytest.mark.slow  # a server in its own process
def test_sigterm_closes_every_session_of_a_served_process(server_process, tmp_path: Path):
    server = server_process(
        "--env", "tests.server.envs:servertest/Echo-v0", "--env-arg", f"close_dir={tmp_path}"
    )
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(ws_url(server.url))) for _ in range(3)]
        for ws in sockets:
            ask(ws, {"type": "reset"})
        probe_closes = len(list(tmp_path.iterdir()))
        server.signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert len(list(tmp_path.iterdir())) == probe_closes + 3


def test_a_non_text_environment_is_refused():
    with pytest.raises(ValueError, match="not a text environment"):
        with serve_in_thread(ServerConfig(env_id="CartPole-v1")):
            pass


def test_the_serve_command_reports_an_unknown_environment(capsys):
    from rlvr_envs.cli import main

    assert main(["serve", "--env", "rlvr/Nope-v0", "--port", "0"]) == 2
    assert "cannot serve rlvr/Nope-v0" in capsys.readouterr().err
