"""What a translating plug-in cannot pass on is a 400, never dropped: OpenAI's deprecated ``functions`` and
``function_call``, and audio output (``modalities``, ``audio``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from providers.anthropic.messages import build_request as anthropic
from providers.cohere.chat import build_request as cohere
from providers.gemini.contents import build_request as gemini
from providers.ollama.messages import build_request as ollama
from providers.tongyi.messages import build_request as tongyi

BUILDERS: dict[str, Callable[[ChatCompletionRequest, dict[str, Any]], object]] = {
    "Anthropic": lambda request, raw: anthropic(request, raw, "claude-haiku-4-5", 1024),
    "Cohere": lambda request, raw: cohere(request, raw, "command-a-03-2025", False),
    "Gemini": gemini,
    "Ollama": lambda request, raw: ollama(request, raw, "llama3.2"),
    "Qwen": lambda request, raw: tongyi(request, raw, "qwen-plus"),
}
FUNCTION = {"name": "clock", "parameters": {"type": "object", "properties": {}}}


@pytest.mark.parametrize("provider", BUILDERS)
@pytest.mark.parametrize(("legacy", "instead"), [({"functions": [FUNCTION]}, "tools"),
                                                 ({"function_call": {"name": "clock"}}, "tool_choice")])
def test_the_deprecated_functions_are_refused_not_dropped(provider: str, legacy: dict[str, Any], instead: str) -> None:
    raw = {"model": "m", "messages": [{"role": "user", "content": "What time is it?"}], **legacy}
    with pytest.raises(InvalidRequestError) as caught:
        BUILDERS[provider](msgspec.convert(raw, ChatCompletionRequest), raw)
    [name] = legacy
    assert (caught.value.param, caught.value.code) == (name, "unsupported_parameter")
    assert f"which {provider} models take: send '{instead}'" in caught.value.message


@pytest.mark.parametrize("provider", BUILDERS)
@pytest.mark.parametrize(("asked", "param"), [({"modalities": ["text", "audio"]}, "modalities"),
                                              ({"audio": {"voice": "alloy", "format": "wav"}}, "audio")])
def test_audio_output_is_refused_not_dropped(provider: str, asked: dict[str, Any], param: str) -> None:
    raw = {"model": "m", "messages": [{"role": "user", "content": "Say hi"}], **asked}
    with pytest.raises(InvalidRequestError) as caught:
        BUILDERS[provider](msgspec.convert(raw, ChatCompletionRequest), raw)
    assert caught.value.param == param and caught.value.message.startswith(f"{provider} models")
    text_only = {"model": "m", "messages": [{"role": "user", "content": "Say hi"}], "modalities": ["text"]}
    BUILDERS[provider](msgspec.convert(text_only, ChatCompletionRequest), text_only)  # text alone is fine


@pytest.mark.parametrize("provider", ["Cohere", "Gemini"])
@pytest.mark.parametrize(("choice", "message"), [
    ("required", "tool_choice 'required' needs tools to choose from."),
    ({"type": "function", "function": {"name": "nope"}}, "tool_choice names the function 'nope', which is not"),
])
def test_a_tool_choice_no_tool_can_meet_is_refused(provider: str, choice: Any, message: str) -> None:
    raw = {"model": "m", "messages": [{"role": "user", "content": "What time is it?"}], "tool_choice": choice,
           **({"tools": [{"type": "function", "function": FUNCTION}]} if isinstance(choice, dict) else {})}
    with pytest.raises(InvalidRequestError) as caught:
        BUILDERS[provider](msgspec.convert(raw, ChatCompletionRequest), raw)
    assert caught.value.param == "tool_choice" and caught.value.message.startswith(message)
