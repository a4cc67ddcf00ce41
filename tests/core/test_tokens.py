"""Offline token counting: the shipped files are OpenAI's, counts match tiktoken's, nothing is downloaded.

Expected ids and totals come from OpenAI's cookbook "How to count tokens with tiktoken", whose chat and tool totals
OpenAI checked against the API's ``prompt_tokens``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import tiktoken

from core import tokens
from core.openai.chat import ChatMessage, Tool
from core.tokenizers.build import declared, expand_ranks
from core.tokens import TokenCount, count_chat, count_text, encoding_for

ROOT = Path(__file__).parents[2]
ENCODINGS = ["cl100k_base", "o200k_base"]


def messages(raw: list[dict[str, Any]]) -> list[ChatMessage]:
    return msgspec.convert(raw, list[ChatMessage])


# -- the shipped files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODINGS)
def test_shipped_file_has_the_hash_tiktoken_declares(name: str) -> None:
    expected_hash, _ = declared(name)
    data = gzip.decompress((ROOT / "core" / "tokenizers" / f"{name}.tiktoken.gz").read_bytes())
    assert hashlib.sha256(data).hexdigest() == expected_hash
    assert tokens._SPECS[name].sha256 == expected_hash


@pytest.mark.parametrize("name", ENCODINGS)
def test_pattern_and_special_tokens_are_tiktokens(name: str) -> None:
    _, parameters = declared(name)
    assert tokens._SPECS[name].pat_str == parameters["pat_str"]
    assert tokens._SPECS[name].special_tokens == parameters["special_tokens"]


def test_a_damaged_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(b"IQ== 0\n"))
    monkeypatch.setattr(tokens, "_TOKENIZERS", tmp_path)
    with pytest.raises(RuntimeError, match="damaged"):
        tokens._load("cl100k_base")


def test_build_expands_js_tiktoken_ranks() -> None:
    module = 'export default {"pat_str": "x", "bpe_ranks": "! 0 IQ== Ig==\\n# 5 Iw==\\n"};\n'
    assert expand_ranks(module) == b"IQ== 0\nIg== 1\nIw== 5\n"


# -- text --------------------------------------------------------------------------------------------------------

PUBLISHED_IDS = [
    ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ("o200k_base", "tiktoken is great!", [83, 8251, 2488, 382, 2212, 0]),
    ("cl100k_base", "antidisestablishmentarianism", [519, 85342, 34500, 479, 8997, 2191]),
    ("o200k_base", "antidisestablishmentarianism", [493, 129901, 376, 160388, 21203, 2367]),
    ("cl100k_base", "2 + 2 = 4", [17, 489, 220, 17, 284, 220, 19]),
    ("o200k_base", "2 + 2 = 4", [17, 659, 220, 17, 314, 220, 19]),
    ("cl100k_base", "お誕生日おめでとう", [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
    ("o200k_base", "お誕生日おめでとう", [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]),
]


@pytest.mark.parametrize(("name", "text", "ids"), PUBLISHED_IDS)
def test_ids_match_the_cookbook(name: str, text: str, ids: list[int]) -> None:
    assert tokens._encoding(name).encode(text) == ids


@pytest.mark.parametrize(("model", "name"), [("gpt-4", "cl100k_base"), ("gpt-4o", "o200k_base")])
def test_count_text_counts_published_strings(model: str, name: str) -> None:
    texts = [text for encoding, text, _ in PUBLISHED_IDS if encoding == name]
    expected = sum(len(ids) for encoding, _, ids in PUBLISHED_IDS if encoding == name)
    assert count_text(model, texts) == TokenCount(tokens=expected, encoding=name, estimated=False)


def _tricky_text() -> str:
    pool = "aZ é中文日本語한국어 \t\n\r0123456789'sT'LL!?.,;:/\\<>|{}()[]-_=+*&^%$#@~`\"😀🚀\u0301\u200b"
    rng = random.Random(20240513)
    samples = ["DON'T I'LL we've", "x = 1234567890\r\n\n\n  def f():\n\treturn  None   ", "<|endoftext|>"]
    samples += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    return "\n".join(samples)


@pytest.mark.parametrize("name", ENCODINGS)
def test_matches_tiktokens_own_encoding(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken loads our file through its own cache (hash-checked) and its own constructor; the ids must agree."""
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    data = gzip.decompress((ROOT / "core" / "tokenizers" / f"{name}.tiktoken.gz").read_bytes())
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a cache miss fails at once instead of downloading
    theirs = tiktoken.get_encoding(name)
    text = _tricky_text()
    assert tokens._encoding(name).encode_ordinary(text) == theirs.encode_ordinary(text)


# -- model names -------------------------------------------------------------------------------------------------

KNOWN_TO_TIKTOKEN = [
    "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini", "chatgpt-4o-latest", "gpt-4.1", "gpt-4.1-mini", "gpt-4.5-preview",
    "gpt-5", "gpt-5-mini", "o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-4", "gpt-4-0613", "gpt-4-turbo",
    "gpt-4-32k", "gpt-3.5-turbo", "gpt-3.5-turbo-0125", "gpt-35-turbo", "text-embedding-3-small",
    "text-embedding-3-large", "text-embedding-ada-002", "davinci-002", "ft:gpt-4o-mini-2024-07-18:acme::9xYz",
    "ft:gpt-3.5-turbo-0125:acme:custom:abc",
]  # fmt: skip


@pytest.mark.parametrize("model", KNOWN_TO_TIKTOKEN)
def test_encoding_agrees_with_tiktokens_table(model: str) -> None:
    assert encoding_for(model) == tiktoken.model.encoding_name_for_model(model)


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gpt-5.1", "o200k_base"),
        ("gpt-5.1-codex-mini", "o200k_base"),
        ("omni-moderation-latest", "o200k_base"),
        ("o3-pro", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("gpt-4-vision-preview", "cl100k_base"),
        ("llama3.2", None),
        ("qwen2.5:7b", None),
        ("o1x", None),
        ("gpt-4oops", None),
        ("text-davinci-003", None),  # p50k_base, which is not shipped
        ("ft:davinci-002:acme::x", "cl100k_base"),
    ],
)
def test_encoding_for(model: str, name: str | None) -> None:
    assert encoding_for(model) == name


# -- embeddings inputs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ("tiktoken is great!", 6),
        (["tiktoken is great!", "2 + 2 = 4"], 13),
        ([83, 1609, 5963, 374], 4),
        ([[83, 1609], [5963, 374, 2294]], 5),
        (["tiktoken is great!", [1, 2, 3], 7], 10),
        ([], 0),
        ("", 0),
        ("<|endoftext|>", 7),  # special-token text is ordinary text in a request
    ],
)
def test_every_embeddings_input_shape(texts: Any, expected: int) -> None:
    assert count_text("text-embedding-3-small", texts) == TokenCount(expected, "cl100k_base", False)


def test_unknown_model_is_an_estimate() -> None:
    assert count_text("llama3.2", "tiktoken is great!") == TokenCount(tokens=6, encoding=None, estimated=True)
    # token ids are counted, not estimated, whatever the model
    assert count_text("llama3.2", [[1, 2], [3]]) == TokenCount(tokens=3, encoding=None, estimated=False)


# -- chat --------------------------------------------------------------------------------------------------------

COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon into "
        "plain English.",
    },
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for "
        "increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {
                    "type": "string",
                    "description": "The unit of temperature to return",
                    "enum": ["celsius", "fahrenheit"],
                },
            },
            "required": ["location"],
        },
    },
}
WEATHER_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "expected"), [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)]
)
def test_chat_matches_the_api_totals_in_the_cookbook(model: str, expected: int) -> None:
    assert count_chat(model, messages(COOKBOOK_MESSAGES)) == TokenCount(expected, encoding_for(model), False)


@pytest.mark.parametrize(
    ("model", "expected"), [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)]
)
def test_tools_match_the_api_totals_in_the_cookbook(model: str, expected: int) -> None:
    tools = msgspec.convert([WEATHER_TOOL], list[Tool])
    assert count_chat(model, messages(WEATHER_MESSAGES), tools) == TokenCount(expected, encoding_for(model), True)


def test_text_parts_count_as_text() -> None:
    as_string = count_chat("gpt-4o", messages([{"role": "developer", "content": "tiktoken is great!"}]))
    as_parts = [{"type": "text", "text": "tiktoken is"}, {"type": "text", "text": " great!"}]
    assert as_string == TokenCount(3 + 1 + 6 + 3, "o200k_base", False)
    assert count_chat("gpt-4o", messages([{"role": "developer", "content": as_parts}])) == as_string


def test_images_audio_and_tool_calls_are_estimates() -> None:
    def user(*parts: dict[str, Any]) -> list[ChatMessage]:
        return messages([{"role": "user", "content": [{"type": "text", "text": "Hi"}, *parts]}])

    text_only = count_chat("gpt-4o", user()).tokens
    low = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
    auto = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    assert count_chat("gpt-4o", user(low)) == TokenCount(text_only + 85, "o200k_base", True)
    assert count_chat("gpt-4o", user(auto)) == TokenCount(text_only + 765, "o200k_base", True)
    assert count_chat("gpt-4o", user(audio)) == TokenCount(text_only, "o200k_base", True)

    call = {"id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": "{}"}}
    history = messages([{"role": "assistant", "tool_calls": [call]}])
    # 3 framing + "assistant" + "get" "_current" "_weather" + "{}" + 3 priming
    assert count_chat("gpt-4o", history) == TokenCount(3 + 1 + 3 + 1 + 3, "o200k_base", True)
    result = messages([{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    assert count_chat("gpt-4o", result).estimated


def test_unknown_chat_model_is_an_estimate() -> None:
    assert count_chat("llama3.2", messages(COOKBOOK_MESSAGES)) == TokenCount(129, None, True)


# -- offline -----------------------------------------------------------------------------------------------------

OFFLINE_SCRIPT = """
import json, sys

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise OSError("network is off in this test: " + event)

sys.addaudithook(no_network)
from core.tokens import count_text
result = {"gpt-4o": count_text("gpt-4o", "tiktoken is great!").tokens,
          "gpt-4": count_text("gpt-4", "antidisestablishmentarianism").tokens}
import tiktoken
try:  # the control: tiktoken's own loader must be stopped by the same sandbox
    tiktoken.get_encoding("o200k_base")
    result["tiktoken_download"] = "succeeded"
except Exception as exc:
    result["tiktoken_download"] = type(exc).__name__
print(json.dumps(result))
"""


def test_counts_with_networking_impossible(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    proxy = "http://127.0.0.1:9"  # the discard port: nothing listens, so any request fails
    env |= {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy}
    env |= {"ALL_PROXY": proxy, "TIKTOKEN_CACHE_DIR": str(cache), "DATA_GYM_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["gpt-4o"] == 6
    assert result["gpt-4"] == 6
    assert result["tiktoken_download"] != "succeeded"
    assert list(cache.iterdir()) == []
