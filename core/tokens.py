"""Token counts for OpenAI models, offline.

tiktoken downloads its BPE files on first use; a gateway in a container without network must still count, so
the ranks of ``cl100k_base`` and ``o200k_base`` ship in ``core/tokenizers/`` (see its README) and are turned into
``tiktoken.Encoding`` objects here, once per process, on first use. Nothing here calls ``tiktoken.get_encoding``
or ``encoding_for_model``, the two functions that download.

Models whose tokenizer is unknown (local Llama, Qwen, Mistral, ...) get an estimate, flagged ``estimated=True``
with ``encoding=None``: their text is counted with ``cl100k_base``. Llama 3 built its vocabulary from tiktoken's
cl100k_base plus 28K tokens, and Qwen started from cl100k_base too, so for the most common open-weight models
the estimate is close; SentencePiece tokenizers (Llama 2, Mistral, Gemma) usually need somewhat more tokens. A
characters/4 rule was rejected: it undercounts Chinese and Japanese about fourfold (a character is about a token).
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import tiktoken

from .openai.chat import (
    AssistantMessage,
    ChatMessage,
    ContentPart,
    DeveloperMessage,
    FunctionCall,
    FunctionMessage,
    SystemMessage,
    Tool,
    ToolMessage,
    UserMessage,
)

__all__ = ["ESTIMATE_ENCODING", "TokenCount", "count_chat", "count_text", "encoding_for"]

CL100K, O200K = "cl100k_base", "o200k_base"
ESTIMATE_ENCODING = CL100K
"""The encoding that estimates the count for a model whose tokenizer is unknown."""

_TOKENIZERS = Path(__file__).parent / "tokenizers"


class _Spec(NamedTuple):
    """What tiktoken_ext.openai_public declares for an encoding; tests check these against it."""

    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


_SPECS = {
    CL100K: _Spec(
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
        r"""\s+(?!\S)|\s""",
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    O200K: _Spec(
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}

# A family name, then nothing or "-<anything>": "gpt-4o-mini-2024-07-18" is gpt-4o, "gpt-4o" is not gpt-4.
_FAMILIES = (
    (O200K, re.compile(r"(gpt-4o|chatgpt-4o|gpt-4\.[15]|gpt-5(\.\d+)?|o[134]|omni-moderation)(-.*)?")),
    (CL100K, re.compile(r"(gpt-4|gpt-3\.5|gpt-35|text-embedding-(3|ada-002)|davinci-002|babbage-002)(-.*)?")),
)

_loaded: dict[str, tiktoken.Encoding] = {}
_loading = threading.Lock()


def _encoding(name: str) -> tiktoken.Encoding:
    """The encoding built from the shipped file, loaded on first use and kept for the life of the process."""
    if (encoding := _loaded.get(name)) is None:
        with _loading:
            if (encoding := _loaded.get(name)) is None:
                encoding = _loaded[name] = _load(name)
    return encoding


def _load(name: str) -> tiktoken.Encoding:
    spec = _SPECS[name]
    data = gzip.decompress((_TOKENIZERS / f"{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise RuntimeError(f"core/tokenizers/{name}.tiktoken.gz is damaged: its sha256 is not tiktoken's")
    ranks = {binascii.a2b_base64(token): int(rank) for token, rank in (line.split() for line in data.splitlines())}
    return tiktoken.Encoding(name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens)


class TokenCount(msgspec.Struct, frozen=True):
    """A token count.

    ``encoding`` names the model's tiktoken encoding, or is ``None`` when the model's tokenizer is unknown.
    ``estimated`` is true when the count is not exact: an unknown tokenizer, or parts whose tokens OpenAI does
    not derive from text in a published way (images, audio, files, tool definitions and tool calls).
    """

    tokens: int
    encoding: str | None
    estimated: bool


def encoding_for(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model (``o200k_base`` or ``cl100k_base``), or ``None`` if unknown.

    ``model`` is the upstream name; anything up to a ``/`` is dropped (``openai/gpt-4o``), and a fine-tuned
    ``ft:<base>:<org>:...`` name uses its base model's encoding.
    """
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return next((encoding for encoding, family in _FAMILIES if family.fullmatch(name)), None)


def count_text(model: str, texts: str | Sequence[str | int | Sequence[int]]) -> TokenCount:
    """Tokens in a prompt or an embeddings ``input``, summed over a batch.

    Takes every shape OpenAI's embeddings ``input`` takes: a string, a list of strings, one token array (a list of
    ints) or a list of token arrays. Token ids are counted, not decoded. Special-token text such as
    ``<|endoftext|>`` counts as ordinary text, as it does in a request.
    """
    name = encoding_for(model)
    encoding = _encoding(name or ESTIMATE_ENCODING)
    items: Sequence[str | int | Sequence[int]] = [texts] if isinstance(texts, str) else texts
    tokens = 0
    for item in items:
        if isinstance(item, str):
            tokens += len(encoding.encode_ordinary(item))
        else:
            tokens += 1 if isinstance(item, int) else len(item)
    has_text = any(isinstance(item, str) for item in items)
    return TokenCount(tokens=tokens, encoding=name, estimated=name is None and has_text)


# OpenAI's cookbook ("How to count tokens with tiktoken"): every message costs 3 tokens of framing plus its role,
# content and name (a name 1 more), and the reply is primed with 3 (<|start|>assistant<|message|>). OpenAI shows it
# matching the API's prompt_tokens for gpt-3.5-turbo, gpt-4, gpt-4o and gpt-4o-mini.
_PER_MESSAGE, _PER_NAME, _REPLY_PRIMING = 3, 1, 3

# An image's tokens depend on its pixel size, which would mean fetching and decoding it. OpenAI's rule for gpt-4o
# charges 85 tokens at ``detail: low`` and 85 + 170 per 512-px tile otherwise; 765 is a 1024x1024 image (4 tiles).
# Other models (gpt-4o-mini, gpt-4.1-mini, ...) price images differently, so both are estimates.
_IMAGE_LOW, _IMAGE_OTHER = 85, 765

# The cookbook's fit of how OpenAI renders function definitions, checked there against the API for the same four
# models: per function 7 tokens (o200k_base) or 10 (cl100k_base) + "name:description"; 3 if it has properties,
# then per property 3 + "name:type:description" and, for an enum, -3 + per value 3 + the value; 12 at the end.
_FUNCTION_START = {O200K: 7, CL100K: 10}
_PROPERTIES_START, _PROPERTY, _ENUM_START, _ENUM_VALUE, _FUNCTIONS_END = 3, 3, -3, 3, 12


class _Tally:
    """Adds up tokens and remembers whether any of them were guessed."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding
        self.tokens = 0
        self.estimated = False

    def text(self, text: str | None) -> None:
        if text:
            self.tokens += len(self.encoding.encode_ordinary(text))

    def guess(self, tokens: int) -> None:
        self.tokens += tokens
        self.estimated = True


def count_chat(model: str, messages: Sequence[ChatMessage], tools: Sequence[Tool] | None = None) -> TokenCount:
    """Prompt tokens of a chat completion request, by OpenAI's published accounting (see the constants above).

    Text (content strings, text and refusal parts, names) is counted exactly. Images count 85 tokens at
    ``detail: low`` and 765 otherwise; audio and file parts count nothing; tool calls in the history count their
    name and arguments, tool results their content; tool definitions follow the cookbook's fit. Any of these makes
    the count an estimate, as does a model whose tokenizer is unknown.
    """
    name = encoding_for(model)
    tally = _Tally(_encoding(name or ESTIMATE_ENCODING))
    tally.estimated = name is None
    for message in messages:
        _add_message(tally, message)
    tally.tokens += _REPLY_PRIMING
    if tools:
        _add_tools(tally, tools, _FUNCTION_START[name or ESTIMATE_ENCODING])
    return TokenCount(tokens=tally.tokens, encoding=name, estimated=tally.estimated)


def _add_message(tally: _Tally, message: ChatMessage) -> None:
    tally.tokens += _PER_MESSAGE
    tally.text(str(type(message).__struct_config__.tag))
    match message:
        case SystemMessage() | DeveloperMessage() | UserMessage():
            _add_content(tally, message.content)
            _add_name(tally, message.name)
        case AssistantMessage():
            _add_content(tally, message.content)
            tally.text(message.refusal)
            _add_name(tally, message.name)
            if message.tool_calls or message.function_call:
                tally.estimated = True  # calls are rendered with the recipient's name and markers we can only guess
            for call in message.tool_calls or []:
                _add_call(tally, call.function, call.custom)
            _add_call(tally, message.function_call, None)
        case ToolMessage():
            tally.estimated = True  # rendered with the function's name, and the message has only the call's id
            _add_content(tally, message.content)
        case FunctionMessage():
            tally.text(message.content)
            _add_name(tally, message.name)


def _add_name(tally: _Tally, name: str | None) -> None:
    if name:
        tally.tokens += _PER_NAME
        tally.text(name)


def _add_call(tally: _Tally, function: FunctionCall | None, custom: dict[str, Any] | None) -> None:
    if function is not None:
        tally.text(function.name)
        tally.text(function.arguments)
    elif custom is not None:
        tally.text(msgspec.json.encode(custom).decode())


def _add_content(tally: _Tally, content: str | list[ContentPart] | None) -> None:
    if content is None or isinstance(content, str):
        tally.text(content)
        return
    for part in content:
        match part.type:
            case "text":
                tally.text(part.text)
            case "refusal":
                tally.text(part.refusal)
            case "image_url":
                low = part.image_url is not None and part.image_url.detail == "low"
                tally.guess(_IMAGE_LOW if low else _IMAGE_OTHER)
            case _:
                tally.estimated = True  # audio, files and newer types: sized from data we do not decode


def _add_tools(tally: _Tally, tools: Sequence[Tool], function_start: int) -> None:
    tally.guess(_FUNCTIONS_END)
    for tool in tools:
        tally.tokens += function_start
        function = tool.function
        if function is None:  # a custom tool or a newer type: count its definition as JSON
            tally.text(msgspec.json.encode(tool).decode())
            continue
        tally.text(f"{function.name}:{(function.description or '').removesuffix('.')}")
        properties = (function.parameters or {}).get("properties")
        if not isinstance(properties, dict):  # a malformed schema is the upstream's to reject, not a crash here
            properties = {}
        if properties:
            tally.tokens += _PROPERTIES_START
        for key, schema in properties.items():
            tally.tokens += _PROPERTY
            if not isinstance(schema, dict):
                continue
            enum = schema.get("enum")
            if isinstance(enum, list):
                tally.tokens += _ENUM_START
                for value in enum:
                    tally.tokens += _ENUM_VALUE
                    tally.text(str(value))
            description = str(schema.get("description", "")).removesuffix(".")
            tally.text(f"{key}:{schema.get('type', '')}:{description}")
