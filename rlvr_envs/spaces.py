"""Unicode text and chat-message spaces that Gymnasium's checker and vector utilities accept.

``gymnasium.spaces.Text`` only admits characters from a fixed alphabet (by default ASCII letters
and digits, no spaces), so it cannot describe a prompt or a model's completion. The two spaces here
describe any Python string, and a list of ``{"role", "content"}`` messages. Importing this module
registers them with the shared-memory functions of Gymnasium's vector utilities (used by
``AsyncVectorEnv``), so ``gymnasium.make_vec`` works in both modes with default arguments. (They are
deliberately not registered with ``iterate``: a batch of them is a ``Tuple`` of copies, which
Gymnasium iterates item by item only for unregistered subspaces.)
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Space
from gymnasium.vector.utils import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

Message = dict[str, str]

DEFAULT_MAX_LENGTH = 1 << 17  # 131,072 characters: long prompts and transcripts fit
DEFAULT_MAX_MESSAGES = 64
DEFAULT_ROLES = ("system", "user", "assistant", "tool")

# Characters used by ``sample()``: ASCII, whitespace and a few non-ASCII letters and symbols that
# real prompts and completions contain, so code fed random samples meets more than ASCII.
_SAMPLE_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " \n\t.,;:!?'\"()[]{}<>+-*/=^_\\$#%&|~@`"
    "éüßçñøπλΣ√∞≤≥−°·×÷€中文日本語한국어😀"
)


class UnicodeText(Space[str]):
    """Any Python string up to ``max_length`` characters."""

    def __init__(
        self,
        max_length: int = DEFAULT_MAX_LENGTH,
        *,
        min_length: int = 0,
        sample_max_length: int = 64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not 0 <= min_length <= max_length:
            raise ValueError(
                f"need 0 <= min_length <= max_length, got {min_length} and {max_length}"
            )
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        self.sample_max_length = max(self.min_length, min(sample_max_length, self.max_length))
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Text has no fixed-size numeric form."""
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A short random string drawn from a mixed ASCII / non-ASCII alphabet."""
        if mask is not None or probability is not None:
            raise NotImplementedError("UnicodeText.sample does not support masks")
        length = int(self.np_random.integers(self.min_length, self.sample_max_length + 1))
        picks = self.np_random.integers(0, len(_SAMPLE_ALPHABET), size=length)
        return "".join(_SAMPLE_ALPHABET[i] for i in picks)

    def contains(self, x: Any) -> bool:
        """True for a ``str`` whose length is within bounds."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def to_jsonable(self, sample_n: Sequence[str]) -> list[str]:
        """Strings are already JSON values."""
        return list(sample_n)

    def from_jsonable(self, sample_n: Sequence[str]) -> list[str]:
        """Strings are already JSON values."""
        return list(sample_n)

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length}, min_length={self.min_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UnicodeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    __hash__ = None  # type: ignore[assignment]


class ChatMessages(Space[list[Message]]):
    """A list of chat messages ``{"role": ..., "content": ...}``.

    ``max_length`` bounds the total number of content characters over all messages. Messages may
    carry other JSON fields (``tool_calls``, ``tool_call_id``, ``name``, ``tools``): the space
    does not constrain them, and ``max_extra_bytes`` bounds their JSON size in shared memory.
    """

    def __init__(
        self,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_length: int = DEFAULT_MAX_LENGTH,
        *,
        roles: Sequence[str] = DEFAULT_ROLES,
        max_extra_bytes: int = 0,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if max_messages < 1 or max_length < 0 or max_extra_bytes < 0:
            raise ValueError("need max_messages >= 1, max_length >= 0 and max_extra_bytes >= 0")
        self.max_messages = int(max_messages)
        self.max_length = int(max_length)
        self.max_extra_bytes = int(max_extra_bytes)
        self.roles = tuple(roles)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Messages have no fixed-size numeric form."""
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> list[Message]:
        """A short random conversation: optional system message, then alternating user/assistant."""
        if mask is not None or probability is not None:
            raise NotImplementedError("ChatMessages.sample does not support masks")
        text = UnicodeText(min(32, self.max_length), seed=int(self.np_random.integers(2**31)))
        messages: list[Message] = []
        if "system" in self.roles and self.np_random.random() < 0.5:
            messages.append({"role": "system", "content": text.sample()})
        turns = int(self.np_random.integers(1, min(4, self.max_messages - len(messages)) + 1))
        for i in range(turns):
            role = "user" if i % 2 == 0 else "assistant"
            messages.append({"role": role, "content": text.sample()})
        budget = self.max_length  # a bound on all contents together: later messages give way
        for message in messages:
            message["content"] = message["content"][:budget]
            budget -= len(message["content"])
        return messages

    def contains(self, x: Any) -> bool:
        """True for a list of messages with known roles and string contents within bounds."""
        if not isinstance(x, list) or not 0 < len(x) <= self.max_messages:
            return False
        total = 0
        for message in x:
            if not isinstance(message, Mapping):
                return False
            role, content = message.get("role"), message.get("content")
            if role not in self.roles or not isinstance(content, str):
                return False
            total += len(content)
        return total <= self.max_length

    def to_jsonable(self, sample_n: Sequence[list[Message]]) -> list[list[Message]]:
        """Messages are already JSON values."""
        return [[dict(m) for m in sample] for sample in sample_n]

    def from_jsonable(self, sample_n: Sequence[list[Message]]) -> list[list[Message]]:
        """Messages are already JSON values."""
        return [[dict(m) for m in sample] for sample in sample_n]

    def __repr__(self) -> str:
        return f"ChatMessages(max_messages={self.max_messages}, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ChatMessages)
            and self.max_messages == other.max_messages
            and self.max_length == other.max_length
            and self.max_extra_bytes == other.max_extra_bytes
            and self.roles == other.roles
        )

    __hash__ = None  # type: ignore[assignment]


# --- Gymnasium vector utilities ----------------------------------------------------------------
#
# Each sub-environment owns a fixed-size byte slot in shared memory: an 8-byte payload length then
# the payload (UTF-8 text, or per message length-prefixed role, content and the JSON of its other
# fields, empty when none). A slot is sized for the worst case of the space (4 bytes per
# character), so any observation the space contains fits.

_LEN = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _encode(space: UnicodeText | ChatMessages, value: Any) -> bytes:
    if isinstance(space, UnicodeText):
        return value.encode("utf-8", "surrogatepass")
    parts = [_U32.pack(len(value))]
    for message in value:
        extra = {k: v for k, v in message.items() if k not in ("role", "content")}
        for text in (message["role"], message["content"], json.dumps(extra) if extra else ""):
            data = text.encode("utf-8", "surrogatepass")
            parts.append(_U32.pack(len(data)))
            parts.append(data)
    return b"".join(parts)


def _decode(space: UnicodeText | ChatMessages, data: bytes) -> Any:
    if isinstance(space, UnicodeText):
        return data.decode("utf-8", "surrogatepass")
    (count,), offset = _U32.unpack_from(data, 0), _U32.size
    messages = []
    for _ in range(count):
        fields = []
        for _ in range(3):
            (size,) = _U32.unpack_from(data, offset)
            offset += _U32.size
            fields.append(data[offset : offset + size].decode("utf-8", "surrogatepass"))
            offset += size
        messages.append({"role": fields[0], "content": fields[1], **json.loads(fields[2] or "{}")})
    return messages


def _slot_size(space: UnicodeText | ChatMessages) -> int:
    if isinstance(space, UnicodeText):
        return _LEN.size + 4 * space.max_length
    longest_role = max((len(r.encode()) for r in space.roles), default=0)
    per_message = 3 * _U32.size + longest_role
    room = 4 * space.max_length + space.max_extra_bytes
    return _LEN.size + _U32.size + space.max_messages * per_message + room


class SharedTextBatch(Sequence):
    """A live, read-only view of the observations an ``AsyncVectorEnv`` keeps in shared memory.

    Gymnasium reads shared memory once, when the vector environment starts, and relies on the
    result being a view that later writes update; decoding on each access gives text that view.
    ``copy.deepcopy`` (what ``AsyncVectorEnv`` returns by default) gives a plain tuple.
    """

    def __init__(self, space: UnicodeText | ChatMessages, buffer: Any, n: int) -> None:
        self._space, self._buffer, self._n = space, buffer, n
        self._slot = _slot_size(space)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._n)))
        if not -self._n <= index < self._n:
            raise IndexError(index)
        start = (index % self._n) * self._slot
        raw = memoryview(self._buffer.get_obj()).cast("B")[start : start + self._slot]
        (size,) = _LEN.unpack_from(raw, 0)
        return _decode(self._space, bytes(raw[_LEN.size : _LEN.size + size]))

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._n))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (Sequence, SharedTextBatch)) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"SharedTextBatch({tuple(self)!r})"


@create_shared_memory.register(UnicodeText)
@create_shared_memory.register(ChatMessages)
def _create_text_memory(space: Space, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    ctx = ctx or multiprocessing
    return ctx.Array("B", n * _slot_size(space))  # type: ignore[arg-type]


@read_from_shared_memory.register(UnicodeText)
@read_from_shared_memory.register(ChatMessages)
def _read_text_memory(space: Space, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)  # type: ignore[arg-type]


@write_to_shared_memory.register(UnicodeText)
@write_to_shared_memory.register(ChatMessages)
def _write_text_memory(space: Space, index: int, value: Any, shared_memory: Any) -> None:
    if not space.contains(value):
        raise ValueError(f"observation does not fit {space}; cannot write it to shared memory")
    data = _encode(space, value)  # type: ignore[arg-type]
    slot = _slot_size(space)  # type: ignore[arg-type]
    if _LEN.size + len(data) > slot:
        raise ValueError(
            f"the observation's extra message fields are over max_extra_bytes="
            f"{getattr(space, 'max_extra_bytes', 0)}; cannot write it to shared memory"
        )
    view = memoryview(shared_memory.get_obj()).cast("B")
    start = index * slot
    view[start : start + _LEN.size] = _LEN.pack(len(data))
    view[start + _LEN.size : start + _LEN.size + len(data)] = data
