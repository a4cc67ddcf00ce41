"""Chat and text completions from a GGUF model run by llama.cpp (``llama-cpp-python``), in OpenAI's shapes.

The chat template is the model's own (from the GGUF metadata). Sampling takes OpenAI's parameters as they are
(``temperature``, ``top_p``, ``stop``, ``seed``, ``max_tokens``/``max_completion_tokens``, the penalties,
``logit_bias``); JSON mode (``response_format`` ``json_object``, or ``json_schema`` with its schema) is a grammar
that llama.cpp enforces token by token. What a small local model cannot do (tools, images, ``n`` > 1, logprobs)
is a 400 naming the parameter. Every call runs in the model's thread (:mod:`.worker`); streams are handed over
token by token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from core import errors
from core.model_types import JSONReply
from core.openai.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    DeveloperMessage,
    SystemMessage,
    UserMessage,
)
from core.openai.completions import Completion, CompletionChoice, CompletionRequest
from core.openai.usage import Usage
from core.sse import DONE, error_event, event
from core.translate import texts

from .worker import ModelSlot, ThreadStream

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["LocalStream", "chat_generation", "completion_generation", "generate", "load_llama"]

DEFAULTS = {"temperature": 0.2, "top_p": 0.95}
"""llama.cpp's own sampling defaults, used when the client sends none (OpenAI's 1.0 makes a 135M model ramble)."""
_encode = msgspec.json.Encoder().encode


def load_llama(path: Path, context_size: int, threads: int) -> Llama:
    """The model, ready to generate (imported here: ``llama-cpp-python`` is an optional extra)."""
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=context_size, n_threads=threads, n_threads_batch=threads,
                 verbose=False)


class _Generation(msgspec.Struct, kw_only=True):
    """One call: what kind, the llama.cpp arguments, and the model name to answer with."""

    chat: bool
    arguments: dict[str, Any]
    model: str
    include_usage: bool = False


def _messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    out = []
    for i, message in enumerate(messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage() | DeveloperMessage():
                role = "system"
            case UserMessage():
                role = "user"
            case AssistantMessage(tool_calls=None, function_call=None):
                role = "assistant"
            case _:
                raise errors.InvalidRequestError("Local models take no tools: send system, user and assistant "
                                                 "messages only.", param=at, code="unsupported_value")
        out.append({"role": role, "content": "\n".join(texts(message.content, at))})
    return out


def _sampling(request: ChatCompletionRequest | CompletionRequest, max_tokens: int | None) -> dict[str, Any]:
    if request.n not in (None, 1):
        raise errors.InvalidRequestError("Local models give one choice per call: leave 'n' out or set it to 1.",
                                         param="n", code="unsupported_value")
    if request.logprobs:
        raise errors.InvalidRequestError("Local models do not return logprobs.", param="logprobs",
                                         code="unsupported_value")
    arguments: dict[str, Any] = {
        "temperature": DEFAULTS["temperature"] if request.temperature is None else request.temperature,
        "top_p": DEFAULTS["top_p"] if request.top_p is None else request.top_p,
        "max_tokens": max_tokens, "stop": request.stop or [], "seed": request.seed,
        "presence_penalty": request.presence_penalty or 0.0, "frequency_penalty": request.frequency_penalty or 0.0,
    }
    if request.logit_bias:
        try:
            arguments["logit_bias"] = {int(token): bias for token, bias in request.logit_bias.items()}
        except ValueError:
            raise errors.InvalidRequestError("logit_bias keys must be token ids.", param="logit_bias",
                                             code="invalid_value") from None
    return arguments


def chat_generation(request: ChatCompletionRequest, model: str) -> _Generation:
    """The llama.cpp call for a chat completion request; 400 for what a local model cannot do."""
    if request.tools:
        raise errors.InvalidRequestError("Local models take no tools.", param="tools", code="unsupported_value")
    arguments = _sampling(request, request.max_completion_tokens or request.max_tokens)
    arguments["messages"] = _messages(request.messages)
    response_format = request.response_format
    if response_format is not None and response_format.type == "json_object":
        arguments["response_format"] = {"type": "json_object"}
    elif response_format is not None and response_format.type == "json_schema":
        schema = response_format.json_schema.schema if response_format.json_schema else None
        arguments["response_format"] = {"type": "json_object", "schema": schema or {}}
    elif response_format is not None and response_format.type != "text":
        raise errors.InvalidRequestError(f"Unknown response_format type '{response_format.type}'.",
                                         param="response_format.type", code="invalid_value")
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return _Generation(chat=True, arguments=arguments, model=model, include_usage=include_usage)


def completion_generation(request: CompletionRequest, model: str) -> _Generation:
    """The llama.cpp call for a legacy completion request (one text prompt)."""
    prompt = request.prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise errors.InvalidRequestError("Local models complete one text prompt per call.", param="prompt",
                                         code="unsupported_value")
    if request.echo or request.suffix or (request.best_of or 1) > 1:
        param = "echo" if request.echo else "suffix" if request.suffix else "best_of"
        raise errors.InvalidRequestError(f"Local models do not support '{param}'.", param=param,
                                         code="unsupported_value")
    arguments = _sampling(request, request.max_tokens or 16)  # OpenAI's default for legacy completions
    arguments["prompt"] = prompt
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return _Generation(chat=False, arguments=arguments, model=model, include_usage=include_usage)


def _run(llm: Llama, generation: _Generation) -> dict[str, Any]:
    call = llm.create_chat_completion if generation.chat else llm.create_completion
    result: dict[str, Any] = call(**generation.arguments, stream=False)  # type: ignore[assignment]
    return result


def _pieces(llm: Llama, generation: _Generation) -> Iterator[tuple[str | None, str | None] | Usage]:
    """In the model's thread: ``(text, finish_reason)`` per token, then the usage (llama.cpp's stream has none:
    the completion counts one token per piece, the prompt is the rest of the context)."""
    call = llm.create_chat_completion if generation.chat else llm.create_completion
    produced = 0
    chunks: Any = call(**generation.arguments, stream=True)  # llama-cpp-python types them as TypedDict unions
    for chunk in chunks:
        choice: dict[str, Any] = chunk["choices"][0]
        text = choice["delta"].get("content") if generation.chat else choice.get("text")
        produced += 1 if text else 0
        if text or choice.get("finish_reason"):
            yield text, choice.get("finish_reason")
    yield Usage(prompt_tokens=max(llm.n_tokens - produced, 0), completion_tokens=produced,
                total_tokens=max(llm.n_tokens, produced))


def _failure(exc: Exception, name: str) -> errors.ModelRuntimeError:
    if isinstance(exc, errors.ModelRuntimeError):
        return exc
    message = str(exc)
    if "exceed context window" in message:
        return errors.InvalidRequestError(f"This request does not fit the context of '{name}': {message}.",
                                          param="messages", code="context_length_exceeded")
    return errors.UpstreamError(f"the local model '{name}' failed: {type(exc).__name__}: {message}",
                                code="local_inference_failed")


async def generate(slot: ModelSlot[Llama], generation: _Generation, stream: bool) -> JSONReply | LocalStream:
    """Run one call: the whole answer, or a stream once its first token came."""
    try:
        if stream:
            return LocalStream(await slot.stream(lambda llm: _pieces(llm, generation)), generation)
        result = await slot.run(lambda llm: _run(llm, generation))
    except Exception as exc:
        raise _failure(exc, slot.name) from exc
    usage = msgspec.convert(result.get("usage") or {}, Usage)
    choice, created = result["choices"][0], int(time.time())
    body: ChatCompletion | Completion
    if generation.chat:
        message = ChatCompletionMessage(content=choice["message"].get("content") or "")
        body = ChatCompletion(id=f"chatcmpl-{uuid.uuid4().hex}", created=created, model=generation.model,
                              usage=usage,
                              choices=[Choice(index=0, message=message, finish_reason=choice["finish_reason"])])
    else:
        body = Completion(id=f"cmpl-{uuid.uuid4().hex}", created=created, model=generation.model, usage=usage,
                          choices=[CompletionChoice(text=choice["text"], index=0,
                                                    finish_reason=choice["finish_reason"])])
    return JSONReply(_encode(body), usage)


class LocalStream:
    """An :class:`~core.model_types.EventStream` of a local generation: OpenAI chunks as tokens come."""

    def __init__(self, pieces: ThreadStream[tuple[str | None, str | None] | Usage], generation: _Generation) -> None:
        self._pieces, self._generation = pieces, generation
        self.id = ("chatcmpl-" if generation.chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.usage: Usage | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._generation.chat:
                yield self._chunk(ChoiceDelta(role="assistant", content=""))
            async for piece in self._pieces:
                if isinstance(piece, Usage):
                    self.usage = piece
                    if self._generation.include_usage:
                        yield self._usage(piece)
                    continue
                text, finish = piece
                yield self._chunk(ChoiceDelta(content=text) if self._generation.chat else text or "", finish)
            yield DONE
        except Exception as exc:
            yield error_event(_failure(exc, self._generation.model))
        finally:
            self._pieces.close()

    async def aclose(self) -> None:
        """Stop generating (the client went away)."""
        self._pieces.close()

    def _chunk(self, delta: ChoiceDelta | str, finish: str | None = None) -> bytes:
        if isinstance(delta, str):
            return event(Completion(id=self.id, created=self.created, model=self._generation.model,
                                    choices=[CompletionChoice(text=delta, index=0, finish_reason=finish)]))
        return event(ChatCompletionChunk(id=self.id, created=self.created, model=self._generation.model,
                                         choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)]))

    def _usage(self, usage: Usage) -> bytes:
        if self._generation.chat:
            return event(ChatCompletionChunk(id=self.id, created=self.created, model=self._generation.model,
                                             choices=[], usage=usage))
        return event(Completion(id=self.id, created=self.created, model=self._generation.model, choices=[],
                                usage=usage))
