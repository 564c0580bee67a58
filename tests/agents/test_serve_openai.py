"""The OpenAI-compatible server (agents.serve) and OpenAIAgent, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agents import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OpenAIAgent,
    ServerUnavailableError,
)
from agents.hf import HFAgent
from agents.serve import CompletionServer

CHATS = [
    [{"role": "user", "content": "What is 2 + 3?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there " * 30}],
    [{"role": "user", "content": "def add(a, b):"}],
]
TEXTS = ["Once upon a time", "12 + 35 =", "x"]


@pytest.fixture(scope="module")
def server(qwen2_path: Path) -> Iterator[CompletionServer]:
    """A server with its own model instance (loaded from the same files as the local agent)."""
    with CompletionServer(HFAgent(qwen2_path, device="cpu"), model_name="tiny") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: CompletionServer, qwen2_path: Path) -> Iterator[OpenAIAgent]:
    with OpenAIAgent("tiny", server.url, tokenizer=qwen2_path, concurrency=4) as agent:
        yield agent


def test_hf_and_openai_agents_give_identical_greedy_completions(qwen2_agent, client) -> None:
    assert client.act(CHATS, temperature=0, max_new_tokens=16) == qwen2_agent.act(
        CHATS, temperature=0, max_new_tokens=16
    )
    assert client.act(TEXTS, temperature=0, max_new_tokens=16) == qwen2_agent.act(
        TEXTS, temperature=0, max_new_tokens=16
    )


def test_token_exact_generation_through_the_server(qwen2_agent, client) -> None:
    remote = client.generate(CHATS, temperature=0, max_new_tokens=12)
    local = qwen2_agent.generate(CHATS, temperature=0, max_new_tokens=12)
    for r, h in zip(remote, local):
        assert (r.prompt_ids, r.token_ids, r.text, r.truncated) == (
            h.prompt_ids,
            h.token_ids,
            h.text,
            h.truncated,
        )
        assert max(abs(a - b) for a, b in zip(r.logprobs, h.logprobs)) < 1e-5


def test_samples_seeds_and_stop(client) -> None:
    out = client.act(["same", "same"], n=2, seed=5, max_new_tokens=8)
    assert len(out) == 4
    assert out == client.act(["same", "same"], n=2, seed=5, max_new_tokens=8)  # reproducible
    assert out[:2] != out[2:]  # identical prompts in one batch still get their own samples
    full = client.act(TEXTS[:1], temperature=0, max_new_tokens=16)[0]
    stop = full[4:6]
    assert (
        stop
        and client.act(TEXTS[:1], temperature=0, max_new_tokens=16, stop=[stop])[0]
        == full[: full.find(stop)]
    )


def request(
    url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    host_port = url.split("//")[1].split("/")[0]
    conn = http.client.HTTPConnection(host_port, timeout=30)
    raw = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else None)
    )
    conn.request(
        method, path, body=raw, headers={"Content-Type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


def test_server_routes_and_response_shape(server) -> None:
    assert request(server.url, "GET", "/health") == (200, {"status": "ok"})
    status, models = request(server.url, "GET", "/v1/models")
    assert (
        status == 200
        and models["data"][0]["id"] == "tiny"
        and models["data"][0]["max_model_len"] == 2048
    )
    status, body = request(
        server.url,
        "POST",
        "/v1/chat/completions",
        {
            "model": "tiny",
            "messages": CHATS[0],
            "max_tokens": 4,
            "temperature": 0,
            "logprobs": True,
            "n": 2,
        },
    )
    assert status == 200 and body["object"] == "chat.completion" and len(body["choices"]) == 2
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in (
        "stop",
        "length",
    )
    assert len(choice["logprobs"]["content"]) == body["usage"]["completion_tokens"] // 2
    status, body = request(
        server.url,
        "POST",
        "/v1/completions",
        {
            "prompt": [[5, 6, 7], [8]],
            "max_tokens": 3,
            "logprobs": 1,
            "return_tokens_as_token_ids": True,
            "return_token_ids": True,
        },
    )
    assert status == 200 and len(body["choices"]) == 2
    assert body["choices"][0]["prompt_token_ids"] == [5, 6, 7]
    assert [int(t.split(":")[1]) for t in body["choices"][1]["logprobs"]["tokens"]] == body[
        "choices"
    ][1]["token_ids"]
    assert body["usage"]["prompt_tokens"] == 4


@pytest.mark.parametrize(
    "path, body, status, fragment",
    [
        ("/v1/nope", {}, 404, "no route"),
        ("/v1/chat/completions", b"{not json", 400, "not valid JSON"),
        ("/v1/chat/completions", [1, 2], 400, "JSON object"),
        ("/v1/chat/completions", {"messages": "hi"}, 400, "messages"),
        ("/v1/chat/completions", {"messages": CHATS[0], "stream": True}, 400, "streaming"),
        ("/v1/chat/completions", {"messages": CHATS[0], "temperature": -1}, 400, "temperature"),
        ("/v1/chat/completions", {"messages": CHATS[0], "model": "other"}, 404, "does not exist"),
        ("/v1/completions", {"prompt": [1.5]}, 400, "prompt"),
        ("/v1/completions", {"prompt": [10**7]}, 400, "vocabulary"),
        ("/v1/completions", {"prompt": "x", "max_tokens": 5000}, 400, "maximum context length"),
    ],
)
def test_server_rejects_bad_requests_clearly(server, path, body, status, fragment) -> None:
    got, answer = request(server.url, "POST", path, body)
    assert got == status and fragment in answer["error"]["message"]


def test_client_errors_are_specific(server, client) -> None:
    with pytest.raises(ContextLengthError, match="context"):
        client.act([[{"role": "user", "content": "word " * 3000}]], max_new_tokens=2)
    with pytest.raises(BadRequestError, match="does not exist"):
        OpenAIAgent("wrong-name", server.url).act(["x"], max_new_tokens=2)


def test_api_key_is_checked(qwen2_agent) -> None:
    with CompletionServer(qwen2_agent, model_name="tiny", api_key="sekret") as srv:
        with pytest.raises(AuthenticationError, match="API key"):
            OpenAIAgent("tiny", srv.url, api_key="wrong").act(["x"], max_new_tokens=2)
        assert len(OpenAIAgent("tiny", srv.url, api_key="sekret").act(["x"], max_new_tokens=2)) == 1


def test_server_down_fails_fast_with_a_clear_error() -> None:
    agent = OpenAIAgent("m", "http://127.0.0.1:9/v1", max_retries=2, backoff=0.01)
    start = time.perf_counter()
    with pytest.raises(ServerUnavailableError, match="connection refused.*is the server running"):
        agent.act(["x"])
    assert time.perf_counter() - start < 5


class FlakyServer:
    """A fake endpoint scripted per request: (status, body, delay)."""

    def __init__(
        self, script: list[tuple[int, dict, float]], headers: dict[str, str] | None = None
    ) -> None:
        self.script, self.hits, self.headers = list(script), [], headers or {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                owner.hits.append(time.perf_counter())
                status, body, delay = owner.script.pop(0) if owner.script else (200, {}, 0)
                time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for k, v in owner.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


OK = {"choices": [{"index": 0, "text": "fine", "finish_reason": "stop"}]}


def test_retries_with_backoff_then_success() -> None:
    fake = FlakyServer(
        [
            (503, {"error": {"message": "overloaded"}}, 0),
            (429, {"error": {"message": "slow down"}}, 0),
            (200, OK, 0),
        ]
    )
    try:
        assert OpenAIAgent("m", fake.url, backoff=0.05).act(["x"]) == ["fine"]
        assert len(fake.hits) == 3
        assert fake.hits[1] - fake.hits[0] >= 0.02 and fake.hits[2] - fake.hits[1] >= 0.04
    finally:
        fake.close()


def test_retry_after_is_honoured_and_retries_run_out() -> None:
    fake = FlakyServer(
        [(503, {"error": {"message": "busy"}}, 0)] * 3, headers={"Retry-After": "0.3"}
    )
    try:
        with pytest.raises(ServerUnavailableError, match="after 2 attempts: HTTP 503: busy"):
            OpenAIAgent("m", fake.url, max_retries=1, backoff=0.01).act(["x"])
        assert fake.hits[1] - fake.hits[0] >= 0.28
    finally:
        fake.close()


def test_timeouts_are_retried_then_reported() -> None:
    fake = FlakyServer([(200, OK, 1.0), (200, OK, 1.0)])
    try:
        with pytest.raises(ServerUnavailableError, match="timeout"):
            OpenAIAgent("m", fake.url, timeout=0.2, max_retries=1, backoff=0.01).act(["x"])
    finally:
        fake.close()


def test_malformed_answers_are_errors_not_empty_completions() -> None:
    fake = FlakyServer([(200, {"choices": []}, 0), (200, OK, 0)])
    try:
        with pytest.raises(Exception, match="returned 0 choices, expected 1"):
            OpenAIAgent("m", fake.url).act(["x"])
        with pytest.raises(Exception, match="token ids"):
            OpenAIAgent("m", fake.url, tokenizer=object()).generate_tokens([[1, 2]])
    finally:
        fake.close()


def test_concurrent_requests_are_batched_by_the_server(qwen2_path) -> None:
    agent = HFAgent(qwen2_path, device="cpu")
    calls = []
    original = agent.generate_tokens

    def counting(prompts, **kwargs):
        calls.append(len(prompts))
        return original(prompts, **kwargs)

    agent.generate_tokens = counting
    with CompletionServer(agent, model_name="tiny", max_wait_s=0.2) as srv:
        client = OpenAIAgent("tiny", srv.url, concurrency=8)
        assert (
            len(client.act(["a", "bb", "ccc", "dddd", "e", "f"], temperature=0, max_new_tokens=4))
            == 6
        )
    assert sum(calls) == 6 and len(calls) < 6


@pytest.mark.slow
def test_command_line_server(qwen2_path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents.serve",
            "--model",
            str(qwen2_path),
            "--port",
            "0",
            "--served-model-name",
            "cli-tiny",
            "--device",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving cli-tiny at http://127.0.0.1:")
        url = line.split(" at ")[1].strip()
        assert OpenAIAgent("cli-tiny", url).act(["hi"], max_new_tokens=3, temperature=0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_token_rollouts_through_the_server_match_local_ones(qwen2_agent, client) -> None:
    import functools

    from rlvr_envs.rollout import collect_rollouts

    from .envs import word_env

    assert client.max_context == 2048  # read from /v1/models
    make = functools.partial(word_env, chat=True, max_turns=2)
    remote = collect_rollouts(
        client, make, num_tasks=2, group_size=2, temperature=0, max_new_tokens=6
    )
    local = collect_rollouts(
        qwen2_agent, make, num_tasks=2, group_size=2, temperature=0, max_new_tokens=6
    )
    assert remote.mode == local.mode == "tokens"
    for r, h in zip(remote, local):
        assert (r.token_ids, r.loss_mask, r.completions) == (
            h.token_ids,
            h.loss_mask,
            h.completions,
        )
        assert max(abs(a - b) for a, b in zip(r.logprobs, h.logprobs)) < 1e-5


def test_token_generation_respects_the_servers_context(qwen2_path, server) -> None:
    agent = OpenAIAgent("tiny", server.url, tokenizer=qwen2_path, max_context=20)
    (generation,) = agent.generate_tokens([[5] * 17], temperature=0, max_new_tokens=10)
    assert len(generation.token_ids) <= 3 and generation.truncated
    with pytest.raises(ContextLengthError):
        agent.generate_tokens([[5] * 20], max_new_tokens=2)


def test_text_as_chat_sends_prompts_as_user_messages(qwen2_agent, server) -> None:
    agent = OpenAIAgent("tiny", server.url, text_as_chat=True)
    expected = qwen2_agent.act(
        [[{"role": "user", "content": t}] for t in TEXTS], temperature=0, max_new_tokens=8
    )
    assert agent.act(TEXTS, temperature=0, max_new_tokens=8) == expected


def test_one_seed_per_sample_does_not_depend_on_the_batch(client) -> None:
    alone = client.act(["same"], seeds=[5], max_new_tokens=8)
    in_batch = client.act(["other", "same"], seeds=[9, 5], max_new_tokens=8)
    assert in_batch[1] == alone[0]
    with pytest.raises(ValueError, match="got 1 seeds for 2 completions"):
        client.act(["a", "b"], seeds=[1])
