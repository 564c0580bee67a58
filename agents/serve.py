"""A small OpenAI-compatible HTTP server in front of an :class:`~agents.hf.HFAgent`.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions`` (text or token-id prompts),
``GET /v1/models`` and ``GET /health``. Standard library only (``http.server``): no web framework.
Concurrent requests are queued and a single worker thread runs them through the model in batches
(requests with the same sampling parameters share a batch; seeded sampling runs alone so that its
result does not depend on what else was in flight).

Chat requests may carry ``tools`` (rendered by the model's chat template), earlier ``tool_calls``
and ``tool`` messages; with ``tools``, Hermes ``<tool_call>`` blocks in the answer come back as
``tool_calls`` (finish reason ``tool_calls``), as vLLM's hermes tool parser does.

Also accepted, as vLLM does: ``top_k``, ``return_tokens_as_token_ids`` (log-prob tokens written as
``"token_id:N"``) and ``return_token_ids`` (each choice carries ``token_ids`` and
``prompt_token_ids``), which is what :class:`~agents.openai_agent.OpenAIAgent` uses for
token-exact generation.

Run it: ``python -m agents.serve --model PATH [--port 8000] [--api-key KEY]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import json
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rlvr_envs.agent import (
    TOOLS_KEY,
    ContextLengthError,
    Generation,
    SamplingParams,
    check_observations,
)
from rlvr_envs.tools.parsers import HermesParser

MAX_BODY_BYTES = 32 << 20


class RequestError(Exception):
    """An HTTP error answer in OpenAI's error format."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        if self.status == 401:
            kind = "authentication_error"
        return {
            "error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        }


class _Batcher:
    """Runs queued generation jobs on one thread, batching jobs that sample alike."""

    def __init__(self, agent: Any, max_batch: int, max_wait_s: float) -> None:
        self.agent, self.max_batch, self.max_wait_s = agent, max_batch, max_wait_s
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="agents-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, prompts: list[list[int]], params: SamplingParams) -> Future:
        future: Future = Future()
        self._jobs.put((prompts, params, future))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            deadline = time.monotonic() + self.max_wait_s
            while sum(len(j[0]) * j[1].n for j in jobs) < self.max_batch:
                try:
                    more = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    self._jobs.put(None)
                    break
                jobs.append(more)
            groups: dict[Any, list] = {}
            for prompts, params, future in jobs:
                alone = params.seed is not None and not params.greedy
                groups.setdefault(id(future) if alone else params, []).append(
                    (prompts, params, future)
                )
            for members in groups.values():
                self._generate(members)

    def _generate(self, members: list) -> None:
        params = members[0][1]
        prompts = [p for prompts, _, _ in members for p in prompts]
        try:
            generations = self.agent.generate_tokens(prompts, **dataclasses.asdict(params))
        except BaseException as exc:  # every waiting request gets the failure
            for _, _, future in members:
                future.set_exception(exc)
            return
        start = 0
        for member_prompts, member_params, future in members:
            size = len(member_prompts) * member_params.n
            future.set_result(generations[start : start + size])
            start += size


class CompletionServer:
    """An OpenAI-compatible server for one agent; ``with CompletionServer(agent) as s: s.url``."""

    def __init__(
        self,
        agent: Any,
        *,
        model_name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        max_batch: int = 64,
        max_wait_s: float = 0.005,
        request_timeout_s: float = 600.0,
    ) -> None:
        self.agent = agent
        self.model_name = model_name or getattr(agent, "name", "model")
        self.api_key = api_key
        self.request_timeout_s = request_timeout_s
        self._batcher = _Batcher(agent, max_batch, max_wait_s)
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the API, ending in ``/v1``."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> CompletionServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="agents-serve",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        try:
            self.httpd.serve_forever()
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.httpd.server_close()
        self._batcher.close()

    def __enter__(self) -> CompletionServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- request handling (called from handler threads) ---------------------------------------

    def check_auth(self, header: str | None) -> None:
        if self.api_key is None:
            return
        token = (header or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(token.encode(), self.api_key.encode()):
            raise RequestError(401, "Incorrect API key provided.", code="invalid_api_key")

    def complete(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("stream"):
            raise RequestError(400, "streaming is not supported by this server", param="stream")
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise RequestError(
                404,
                f"The model `{model}` does not exist; this server serves `{self.model_name}`.",
                code="model_not_found",
                param="model",
            )
        chat = route == "chat"
        prompts = self._chat_prompts(body) if chat else self._text_prompts(body)
        params = self._sampling(body, prompts, chat)
        future = self._batcher.submit(prompts, params)
        try:
            generations: list[Generation] = future.result(timeout=self.request_timeout_s)
        except ContextLengthError as exc:
            raise RequestError(400, str(exc), code="context_length_exceeded") from exc
        except (ValueError, TypeError) as exc:
            raise RequestError(400, str(exc)) from exc
        return self._response(chat, body, prompts, params, generations)

    def _chat_prompts(self, body: dict[str, Any]) -> list[list[int]]:
        messages = _from_openai(body.get("messages"), body.get("tools"))
        try:
            (messages,) = check_observations([messages])
        except TypeError as exc:
            raise RequestError(
                400,
                f"'messages' must be a non-empty list of {{role, content}} messages: {exc}",
                param="messages",
            ) from exc
        if isinstance(messages, str):
            raise RequestError(
                400, "'messages' must be a list of messages, not a string", param="messages"
            )
        try:
            return [self.agent.encode(messages)]
        except ValueError as exc:
            raise RequestError(400, str(exc), param="messages") from exc

    def _text_prompts(self, body: dict[str, Any]) -> list[list[int]]:
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            return [self.agent.encode(prompt)]
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            return [list(prompt)]
        if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            return [self.agent.encode(p) for p in prompt]
        if (
            isinstance(prompt, list)
            and prompt
            and all(
                isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt
            )
        ):
            return [list(p) for p in prompt]
        raise RequestError(
            400,
            "'prompt' must be a string, a list of strings, a list of token ids or a list of such lists",
            param="prompt",
        )

    def _sampling(
        self, body: dict[str, Any], prompts: list[list[int]], chat: bool
    ) -> SamplingParams:
        context = getattr(self.agent, "max_context", None)
        longest = max(len(p) for p in prompts)
        if context is not None and longest >= context:
            raise RequestError(
                400,
                f"This model's maximum context length is {context} tokens. However, your prompt has {longest} tokens.",
                code="context_length_exceeded",
                param="messages" if chat else "prompt",
            )
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is None:
            # OpenAI's defaults: the rest of the context for chat, 16 tokens for completions.
            max_tokens = (context - longest) if (chat and context is not None) else 16
        elif context is not None and isinstance(max_tokens, int) and longest + max_tokens > context:
            raise RequestError(
                400,
                f"This model's maximum context length is {context} tokens. However, you requested {longest + max_tokens} tokens ({longest} in the prompt, {max_tokens} for the completion).",
                code="context_length_exceeded",
                param="max_tokens",
            )

        def given(key: str, default: Any) -> Any:
            value = body.get(key)
            return default if value is None else value

        try:
            return SamplingParams(
                temperature=given("temperature", 1.0),
                top_p=given("top_p", 1.0),
                top_k=0 if given("top_k", -1) == -1 else body["top_k"],  # vLLM: -1 means all
                max_new_tokens=max_tokens,
                stop=given("stop", ()),
                n=given("n", 1),
                seed=body.get("seed"),
            )
        except (TypeError, ValueError) as exc:
            raise RequestError(400, str(exc)) from exc

    def _response(
        self,
        chat: bool,
        body: dict[str, Any],
        prompts: list[list[int]],
        params: SamplingParams,
        generations: list[Generation],
    ) -> dict[str, Any]:
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        with_ids = bool(body.get("return_token_ids"))
        want_logprobs = body.get("logprobs")
        choices = []
        for index, generation in enumerate(generations):
            choice: dict[str, Any] = {"index": index, "finish_reason": generation.finish_reason}
            if isinstance(generation.stop_reason, (int, str)):
                choice["stop_reason"] = generation.stop_reason
            tokens = [self._token_text(t, as_ids) for t in generation.token_ids]
            if chat:
                choice["message"] = assistant_message(generation.text, bool(body.get("tools")))
                if choice["message"].get("tool_calls"):
                    choice["finish_reason"] = "tool_calls"
                choice["logprobs"] = (
                    {
                        "content": [
                            {
                                "token": tok,
                                "logprob": lp,
                                "bytes": list(tok.encode()),
                                "top_logprobs": [],
                            }
                            for tok, lp in zip(tokens, generation.logprobs)
                        ]
                    }
                    if want_logprobs
                    else None
                )
            else:
                choice["text"] = generation.text
                choice["logprobs"] = (
                    {
                        "tokens": tokens,
                        "token_logprobs": generation.logprobs,
                        "top_logprobs": None,
                        "text_offset": _offsets(tokens),
                    }
                    if want_logprobs is not None and want_logprobs is not False
                    else None
                )
            if with_ids:
                choice["token_ids"] = generation.token_ids
                choice["prompt_token_ids"] = generation.prompt_ids
            choices.append(choice)
        completion_tokens = sum(g.num_tokens for g in generations)
        prompt_tokens = sum(len(p) for p in prompts)
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _token_text(self, token: int, as_id: bool) -> str:
        if as_id:
            return f"token_id:{token}"
        return self.agent.tokenizer.decode([token], skip_special_tokens=False)


def _from_openai(messages: Any, tools: Any) -> Any:
    """OpenAI chat messages as chat templates take them: null content as "", tool-call arguments
    as objects, and the request's ``tools`` declared on the first message."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return messages  # check_observations explains what is wrong
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise RequestError(400, "'tools' must be a list of tool objects", param="tools")
    out = []
    for message in messages:
        message = dict(message)
        if message.get("content") is None:
            message["content"] = ""
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = dict(call.get("function") or {}) if isinstance(call, dict) else {}
                if isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = json.loads(function["arguments"])
                    except ValueError:
                        pass  # the template writes the string as it came
                calls.append({**call, "function": function})
            message["tool_calls"] = calls
        out.append(message)
    if tools and out:
        out[0][TOOLS_KEY] = tools
    return out


def assistant_message(text: str, parse_tools: bool) -> dict[str, Any]:
    """The chat answer: with tools in the request, Hermes ``<tool_call>`` blocks in the text
    become ``tool_calls`` (when every one is well formed; otherwise the text stays as it is)."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if not parse_tools:
        return message
    turn = HermesParser().parse(text, max_calls=64, max_argument_bytes=MAX_BODY_BYTES)
    if not turn.calls or any(call.error_kind for call in turn.calls):
        return message
    message["content"] = turn.content or None
    message["tool_calls"] = [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in turn.calls
    ]
    return message


def _offsets(tokens: list[str]) -> list[int]:
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    return offsets


class _Handler(BaseHTTPRequestHandler):
    server_state: CompletionServer
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections

    def log_message(self, format: str, *args: Any) -> None:  # requests are not logged to stderr
        return

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server_state
        try:
            state.check_auth(self.headers.get("Authorization"))
            if self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/v1/models":
                entry = {
                    "id": state.model_name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "rlvr-envs",
                }
                context = getattr(state.agent, "max_context", None)
                if context is not None:
                    entry["max_model_len"] = context
                self._send(200, {"object": "list", "data": [entry]})
            else:
                raise RequestError(404, f"no route GET {self.path}")
        except RequestError as exc:
            self._send(exc.status, exc.body())

    def do_POST(self) -> None:
        state = self.server_state
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise RequestError(413, f"request body over {MAX_BODY_BYTES} bytes")
            raw = self.rfile.read(length) if length else b""
            state.check_auth(self.headers.get("Authorization"))
            routes = {"/v1/chat/completions": "chat", "/v1/completions": "text"}
            route = routes.get(self.path.rstrip("/"))
            if route is None:
                raise RequestError(404, f"no route POST {self.path}")
            try:
                body = json.loads(raw or b"null")
            except ValueError as exc:
                raise RequestError(400, f"the request body is not valid JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise RequestError(400, "the request body must be a JSON object")
            self._send(200, state.complete(route, body))
        except RequestError as exc:
            self._send(exc.status, exc.body())
        except Exception as exc:  # a bug or a model failure: report it, keep serving
            self._send(500, RequestError(500, f"{type(exc).__name__}: {exc}").body())


def main(argv: list[str] | None = None) -> None:
    """Command line: serve a model over the OpenAI API."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.serve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, help="local path or hub id of a causal LM")
    parser.add_argument("--tokenizer", default=None, help="tokenizer path (default: the model's)")
    parser.add_argument("--served-model-name", default=None, help="name clients pass as 'model'")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    parser.add_argument(
        "--device", default=None, help="cuda, cpu... (default: cuda when available)"
    )
    parser.add_argument("--dtype", default=None, help="bfloat16, float32... (default: bf16 on GPU)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long to gather a batch")
    args = parser.parse_args(argv)

    from .hf import HFAgent

    agent = HFAgent(
        args.model, args.tokenizer, device=args.device, dtype=args.dtype, batch_size=args.batch_size
    )
    server = CompletionServer(
        agent,
        model_name=args.served_model_name or args.model,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        max_batch=args.batch_size,
        max_wait_s=args.max_wait_ms / 1000,
    )
    print(f"serving {server.model_name} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
