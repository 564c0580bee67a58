"""An agent behind any OpenAI-compatible HTTP endpoint (vLLM, SGLang, a hosted API, ``agents.serve``).

The HTTP client is the standard library's ``http.client``: a handful of JSON POSTs need no extra
dependency, and one persistent (keep-alive) connection per worker thread avoids a TCP handshake per
request. Requests run concurrently on a thread pool (one request per observation, ``n`` samples
each); connection failures, timeouts, 429 and 5xx answers are retried with exponential backoff and
jitter (``Retry-After`` honoured); a bad key, a prompt over the context length or another rejected
request fails at once with a specific error.

Chat observations go to ``/v1/chat/completions``; string observations go to ``/v1/completions``
(or, with ``text_as_chat=True``, to the chat route as one user message, for chat-only APIs). Tools
declared by a chat observation (tool environments) are sent as ``tools``, earlier calls as
``tool_calls`` and ``tool`` messages; an answer's ``tool_calls`` come back as Hermes
``<tool_call>`` text, the form :class:`rlvr_envs.wrappers.ToolUse` parses.

Token-exact generation (``generate`` / ``generate_tokens``, used by training rollouts) needs a
local ``tokenizer`` and a server that accepts token-id prompts on ``/v1/completions`` and reports
sampled token ids and log-probs, as vLLM and ``agents.serve`` do (``return_token_ids`` /
``return_tokens_as_token_ids``). Log-probs are whatever the server reports: ``agents.serve`` gives
``log_softmax(logits / temperature)``; vLLM gives raw model log-probs unless configured otherwise.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlvr_envs.agent import (
    AgentError,
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    Generation,
    Observation,
    SamplingParams,
    ServerError,
    ServerUnavailableError,
    check_observations,
)
from rlvr_envs.agent.protocol import split_tools
from rlvr_envs.rollout.tokens import encode_observation
from rlvr_envs.tools.parsers import HermesParser

_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIAgent:
    """A model served over the OpenAI API; ``OpenAIAgent("my-model", "http://host:8000/v1")``."""

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        text_as_chat: bool = False,
        tokenizer: Any = None,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_context: int | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {base_url!r}"
            )
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("need concurrency >= 1, max_retries >= 0 and timeout > 0")
        self.model = model
        self.name = model
        self.base_url = base_url.rstrip("/")
        self._scheme, self._host, self._port = parsed.scheme, parsed.hostname, parsed.port
        self._path = parsed.path.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.timeout = concurrency, timeout
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.text_as_chat = text_as_chat
        if isinstance(tokenizer, (str, os.PathLike)):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        self.tokenizer = tokenizer
        self.default_sampling = SamplingParams.build(sampling)
        self.extra_body = dict(extra_body or {})
        self.headers = dict(headers or {})
        self._max_context = max_context
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIAgent({self.model!r}, {self.base_url!r})"

    @property
    def max_context(self) -> int | None:
        """The model's context length: as given, else ``max_model_len`` from ``/v1/models`` (vLLM
        and ``agents.serve`` report it), else None. Token-exact generation caps ``max_tokens`` by it."""
        if self._max_context is None and self.tokenizer is not None:
            try:
                models = self.post("/models", None).get("data") or []
            except AgentError:
                models = []
            for entry in models:
                if (
                    isinstance(entry, dict)
                    and entry.get("id") == self.model
                    and isinstance(entry.get("max_model_len"), int)
                ):
                    self._max_context = entry["max_model_len"]
            if self._max_context is None:
                self._max_context = 0  # unknown; do not ask again
        return self._max_context or None

    # --- the agent protocol -------------------------------------------------------------------

    def act(
        self,
        observations: Sequence[Observation],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[str]:
        """Completion texts, observation-major with ``n`` samples each (``seeds``: one per sample)."""
        batch = check_observations(observations)
        params = SamplingParams.build(self.default_sampling, **sampling)
        seed = _request_seeds(params, len(batch), seeds)
        answers = self._map(lambda i: self._texts(batch[i], params, i, seed[i]), len(batch))
        return [text for texts in answers for text in texts]

    def generate(
        self,
        observations: Sequence[Observation],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[Generation]:
        """Token-exact generations for observations (needs ``tokenizer``)."""
        batch = check_observations(observations)
        tokenizer = self._need_tokenizer()
        return self.generate_tokens(
            [encode_observation(tokenizer, obs) for obs in batch], seeds=seeds, **sampling
        )

    def generate_tokens(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[Generation]:
        """Token-exact generations continuing token-id prompts, via ``/v1/completions``."""
        self._need_tokenizer()
        params = SamplingParams.build(self.default_sampling, **sampling)
        rows = [[int(t) for t in prompt] for prompt in prompts]
        seed = _request_seeds(params, len(rows), seeds)
        answers = self._map(
            lambda i: self._token_generations(rows[i], params, i, seed[i]), len(rows)
        )
        return [g for gens in answers for g in gens]

    def close(self) -> None:
        """Stop the worker threads (connections close with them)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> OpenAIAgent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- requests -----------------------------------------------------------------------------

    def _need_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise AgentError(
                "token-exact generation needs the model's tokenizer: OpenAIAgent(..., tokenizer=PATH)"
            )
        return self.tokenizer

    def _map(self, work: Any, count: int) -> list[Any]:
        if count == 0:
            return []
        if count == 1:
            return [work(0)]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai-agent")
            pool = self._pool
        return list(pool.map(work, range(count)))

    def _body(self, params: SamplingParams, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "n": params.n,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.top_k:
            body["top_k"] = params.top_k
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        return body

    def _texts(
        self, observation: Observation, params: SamplingParams, index: int, seed: int | None
    ) -> list[str]:
        body = self._body(params, seed)
        if isinstance(observation, str) and not self.text_as_chat:
            body["prompt"] = observation
            choices = self._choices(self.post("/completions", body), params.n)
            return [c.get("text") or "" for c in choices]
        if isinstance(observation, str):
            body["messages"] = [{"role": "user", "content": observation}]
        else:
            messages, tools = split_tools(observation)
            body["messages"] = [openai_message(m) for m in messages]
            if tools:
                body["tools"] = tools
        choices = self._choices(self.post("/chat/completions", body), params.n)
        return [message_text(c.get("message") or {}) for c in choices]

    def _token_generations(
        self, prompt: list[int], params: SamplingParams, index: int, seed: int | None
    ) -> list[Generation]:
        body = self._body(params, seed)
        context = self.max_context
        if context is not None:
            if len(prompt) >= context:
                raise ContextLengthError(
                    f"prompt {index} has {len(prompt)} tokens; the model's context is {context} tokens"
                )
            body["max_tokens"] = min(params.max_new_tokens, context - len(prompt))
        body.update(
            prompt=prompt, logprobs=1, return_tokens_as_token_ids=True, return_token_ids=True
        )
        choices = self._choices(self.post("/completions", body), params.n)
        return [self._generation(prompt, choice, params) for choice in choices]

    def _generation(
        self, prompt: list[int], choice: dict[str, Any], params: SamplingParams
    ) -> Generation:
        logprobs = choice.get("logprobs") or {}
        token_ids = choice.get("token_ids")
        if token_ids is None:
            tokens = logprobs.get("tokens") or []
            if not tokens or not all(
                isinstance(t, str) and t.startswith("token_id:") for t in tokens
            ):
                raise AgentError(
                    f"{self.base_url} did not return sampled token ids; token-exact generation needs a "
                    "server that supports return_token_ids or return_tokens_as_token_ids (vLLM, agents.serve)"
                )
            token_ids = [int(t.removeprefix("token_id:")) for t in tokens]
        values = logprobs.get("token_logprobs")
        if values is None or len(values) != len(token_ids):
            raise AgentError(f"{self.base_url} did not return one log-prob per sampled token")
        finish = choice.get("finish_reason") or "stop"
        stop_reason = choice.get("stop_reason")
        if stop_reason is None and token_ids and finish == "stop":
            stop_reason = token_ids[-1]
        return Generation(
            text=choice.get("text") or "",
            prompt_ids=list(prompt),
            token_ids=[int(t) for t in token_ids],
            logprobs=[float(v) for v in values],
            truncated=finish == "length",
            finish_reason=finish,
            stop_reason=stop_reason,
        )

    def _choices(self, response: dict[str, Any], n: int) -> list[dict[str, Any]]:
        choices = response.get("choices")
        if not isinstance(choices, list) or len(choices) != n:
            raise AgentError(
                f"{self.base_url} returned {0 if not isinstance(choices, list) else len(choices)} choices, expected {n}"
            )
        return sorted(choices, key=lambda c: c.get("index", 0))

    def post(self, route: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """POST JSON to ``base_url + route`` (GET when ``body`` is None) with retries."""
        payload = json.dumps(body).encode() if body is not None else None
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(
                    0.5, 1.0
                )
                if isinstance(last, _Retryable) and last.retry_after is not None:
                    delay = min(self.max_backoff, max(delay, last.retry_after))
                time.sleep(delay)
            try:
                return self._post_once(route, payload)
            except _Retryable as exc:
                last = exc
        raise ServerUnavailableError(
            f"{self.base_url}{route} failed after {self.max_retries + 1} attempts: {last}"
        ) from last

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _post_once(self, route: str, payload: bytes | None) -> dict[str, Any]:
        method = "GET" if payload is None else "POST"
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self.headers}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        conn = self._connection()
        reused = conn.sock is not None
        try:
            try:
                conn.request(method, self._path + route, body=payload, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection: reconnect once, no backoff.
                self._drop_connection()
                conn = self._connection()
                conn.request(method, self._path + route, body=payload, headers=headers)
                response = conn.getresponse()
            data = response.read()
        except TimeoutError as exc:
            self._drop_connection()
            raise _Retryable(f"no answer within {self.timeout} s (timeout)") from exc
        except ConnectionRefusedError as exc:
            self._drop_connection()
            raise _Retryable(
                f"connection refused by {self._host}:{self._port} (is the server running?)"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.getheader("Connection", "").lower() == "close":
            self._drop_connection()
        status = response.status
        if status == 200:
            try:
                return json.loads(data)
            except ValueError as exc:
                raise ServerError(
                    f"{self.base_url}{route} answered 200 with a body that is not JSON: {data[:200]!r}"
                ) from exc
        message, code = _error_detail(data)
        where = f"{self.base_url}{route}"
        if status in (401, 403):
            raise AuthenticationError(f"{where} rejected the API key (HTTP {status}): {message}")
        if status in _RETRY_STATUSES:
            retry_after = response.getheader("Retry-After")
            raise _Retryable(
                f"HTTP {status}: {message}", float(retry_after) if _is_number(retry_after) else None
            )
        if status == 400 and (
            code == "context_length_exceeded"
            or "context length" in message.lower()
            or "context_length" in message.lower()
        ):
            raise ContextLengthError(
                f"{where}: the prompt does not fit the model's context: {message}"
            )
        if 400 <= status < 500:
            raise BadRequestError(f"{where} rejected the request (HTTP {status}): {message}")
        raise ServerError(f"{where} failed (HTTP {status}): {message}")


def openai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A chat message as the OpenAI API takes it: tool-call arguments as JSON strings."""
    out = dict(message)
    if out.get("tool_calls"):
        calls = []
        for call in out["tool_calls"]:
            function = dict(call.get("function") or {})
            if not isinstance(function.get("arguments"), str):
                function["arguments"] = json.dumps(function.get("arguments") or {})
            calls.append({**call, "function": function})
        out["tool_calls"] = calls
    return out


def message_text(message: Mapping[str, Any]) -> str:
    """An answer as completion text: its content, then its structured ``tool_calls`` written in
    the Hermes format that :class:`rlvr_envs.wrappers.ToolUse` reads (arguments that are not
    JSON stay as they came, so the environment reports them as malformed)."""
    content = message.get("content") or ""
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass
        calls.append((str(function.get("name")), arguments))
    if not calls:
        return content
    written = HermesParser().render_calls(calls)
    return f"{content}\n{written}" if content else written


def _request_seeds(
    params: SamplingParams, count: int, seeds: Sequence[int] | None
) -> list[int | None]:
    """One seed per request (one request per observation, ``n`` samples each): the request's
    first sample seed when the caller gives one per sample, else ``seed + index``, so identical
    prompts in a batch (a GRPO group) still get different samples, reproducibly."""
    if seeds is not None:
        if len(seeds) != count * params.n:
            raise ValueError(f"got {len(seeds)} seeds for {count * params.n} completions")
        return [int(seeds[i * params.n]) for i in range(count)]
    if params.seed is None:
        return [None] * count
    return [params.seed + i for i in range(count)]


def _is_number(text: str | None) -> bool:
    try:
        return text is not None and float(text) >= 0
    except ValueError:
        return False


def _error_detail(data: bytes) -> tuple[str, str | None]:
    """The message and code of an error answer (OpenAI format, or whatever text came)."""
    try:
        payload = json.loads(data)
    except ValueError:
        return data[:500].decode("utf-8", "replace") or "(empty body)", None
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or json.dumps(error)[:500]
        code = error.get("code")
        return str(message), str(code) if code is not None else None
    return str(error)[:500], None
