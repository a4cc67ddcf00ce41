"""A faithful fake of Alibaba Cloud DashScope's native API (text generation, text embedding, text rerank):
`FakeDashScope`.

A raw ASGI 3 application on `upstream_kit`; `base_url` is the server root like `https://dashscope.aliyuncs.com`,
and `api_url` (`<root>/api/v1`) what the `dashscope` SDK takes as `base_address`. Routes, all POST behind
`Authorization: Bearer <key>`, as Model Studio's API reference documents them:

* `/api/v1/services/aigc/text-generation/generation` `{model, input: {messages}, parameters?: {result_format ("text"
  default | "message"), incremental_output, max_tokens, temperature [0, 2), top_p (0, 1], top_k, seed, stop, tools,
  tool_choice ("auto" | "none" | {type: function, function: {name}}), parallel_tool_calls, response_format,
  enable_thinking, presence_penalty, repetition_penalty}}` → `{output: {choices: [{finish_reason, message: {role,
  content, tool_calls?, reasoning_content?}}]} (or {text, finish_reason}), usage: {input_tokens, output_tokens,
  total_tokens, output_tokens_details?: {reasoning_tokens}}, request_id}`. With `X-DashScope-SSE: enable` (or
  `Accept: text/event-stream`) it streams SSE events `id:<n>` / `event:result` / `:HTTP_STATUS/200` / `data:<a whole
  response>`: with `incremental_output` each holds only what is new, otherwise all so far; `finish_reason` is the
  string `"null"` until the last event, and every event carries the usage so far. A failure mid-stream is
  `event:error` with `:HTTP_STATUS/<code>` and the error object.
* `/api/v1/services/embeddings/text-embedding/text-embedding` `{model, input: {texts}, parameters?: {dimension,
  text_type}}` → `{output: {embeddings: [{text_index, embedding}]}, usage: {total_tokens}, request_id}`; v3 and
  v4 take at most 10 texts a call (v2: 25).
* `/api/v1/services/rerank/text-rerank/text-rerank` `{model, input: {query, documents}, parameters?: {top_n,
  return_documents}}` → `{output: {results: [{index, relevance_score, document?}]}, usage: {total_tokens},
  request_id}`, best first (`relevance.relevance`).

Errors are `{"code", "message", "request_id"}` with the statuses of Model Studio's error reference (`CODES`):
no or a wrong key → 401 `InvalidApiKey`, an unknown model → 400 `InvalidParameter` `Model not exist.`, a prompt
over the model's window → 400 `InvalidParameter` `Range of input length should be [1, <n>]`, a bad parameter →
400 `InvalidParameter` naming it, an unknown path → 400 `InvalidURL`.

Replies are deterministic (tokens are `openai_wire.words`): `"echo: " + <last user text>`; after tool results
`"results: <content>; ..."`; tools are called by `zhipu_upstream.called_tools` (every offered function named by a
word of the last user message, arguments from `<property>=<value>`), unless `tool_choice` is `none`; a named
`tool_choice` calls that function only; more than one call only with `parallel_tool_calls: true` (DashScope's
default is false). `stop` cuts before the word, `max_tokens` keeps that many words
(`length`). Thinking models (qwen-plus, qwen-turbo) with `enable_thinking` answer a `reasoning_content` first, cut
to `thinking_budget` words (at most `THINKING_BUDGET_MAX`, the Qwen3 models' limit).
Content moderation: a user text holding `SENSITIVE_INPUT` is a 400 `DataInspectionFailed` (input); holding
`SENSITIVE_OUTPUT`, the answer is stopped: a 400 `DataInspectionFailed` (output), or streamed, two words and
then an `event:error` with it.

Faults come from the model (or the server-wide `fault`): `fault-status-<code>` (that status with DashScope's
error for it), `fault-code-<code>` (that error code with its status, e.g. `fault-code-Arrearage`),
`fault-stall-<s>`, `fault-garbage` (200 text/html; streamed, an event that is not JSON) and `fault-cut-<n>`
(streamed: n events, then the connection drops; otherwise half of the body). A fault model chats like qwen-max,
embeds like text-embedding-v4 and ranks like gte-rerank-v2. Every request is recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

import msgspec

from tests.fakes.openai_wire import embedding_vector, pieces, words
from tests.fakes.relevance import relevance
from tests.fakes.upstream_kit import FAULT_KINDS, GARBAGE, JSON, Exchange, FakeUpstream, HTTPError, Request
from tests.fakes.zhipu_upstream import answer, call_id, called_tools

__all__ = ["CODES", "SENSITIVE_INPUT", "SENSITIVE_OUTPUT", "DashScopeError", "FakeDashScope"]

PREFIX = "/api/v1/services"
GENERATION = f"{PREFIX}/aigc/text-generation/generation"
EMBEDDING = f"{PREFIX}/embeddings/text-embedding/text-embedding"
RERANK = f"{PREFIX}/rerank/text-rerank/text-rerank"
EVENT_STREAM = "text/event-stream;charset=UTF-8"
JSON_TYPE = "application/json"
SENSITIVE_INPUT = "forbidden-topic"
THINKING_BUDGET_MAX = 38_912
SENSITIVE_OUTPUT = "touchy-topic"
_CODE_FAULT = re.compile(r"fault-code-([\w.]+)")

CODES: dict[str, tuple[int, str]] = {
    "InvalidParameter": (400, "Required parameter(s) missing or invalid, please check the request parameters."),
    "DataInspectionFailed": (400, "Input or output data may contain inappropriate content."),
    "Arrearage": (400, "Access denied, plesase make sure your account is in good standing."),
    "InvalidURL": (400, "Invalid URL provided in your request."),
    "InvalidApiKey": (401, "Invalid API-key provided."),
    "AccessDenied": (403, "Access denied."),
    "ModelNotFound": (404, "Model not exist."),
    "Throttling": (429, "Requests throttling triggered."),
    "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
    "Throttling.AllocationQuota": (429, "Allocated quota exceeded, please increase your quota limit."),
    "InternalError": (500, "An internal error has occured, please try again later or contact service support."),
    "ServiceUnavailable": (503, "The service is temporarily unavailable, please try again later."),
}
"""Error code → (HTTP status, message) as Model Studio's error reference lists them (its typos included)."""
_STATUS_CODES = {400: "InvalidParameter", 401: "InvalidApiKey", 403: "AccessDenied", 404: "ModelNotFound",
                 429: "Throttling.RateQuota", 500: "InternalError", 503: "ServiceUnavailable"}


@dataclass(frozen=True)
class Model:
    """A model the fake serves: `kind` is chat, embedding or rerank."""

    name: str
    kind: str
    context: int = 8192
    max_output: int = 0
    thinking: bool = False
    dimensions: tuple[int, ...] = ()
    batch: int = 10


MODELS: tuple[Model, ...] = (
    Model("qwen3-max", "chat", 262_144, 65_536),  # as the 2025-09-23 snapshot: it does not think
    Model("qwen3-max-2026-01-23", "chat", 262_144, 65_536, thinking=True),
    Model("qwen-max", "chat", 32_768, 8192),
    Model("qwen-plus", "chat", 131_072, 16_384, thinking=True),
    Model("qwen-turbo", "chat", 1_000_000, 16_384, thinking=True),
    Model("text-embedding-v4", "embedding", dimensions=(1024, 2048, 1536, 768, 512, 256, 128, 64)),
    Model("text-embedding-v3", "embedding", dimensions=(1024, 768, 512, 256, 128, 64)),
    Model("text-embedding-v2", "embedding", 2048, dimensions=(1536,), batch=25),
    Model("gte-rerank-v2", "rerank", 4000),
    Model("gte-rerank", "rerank", 4000),
)
_BY_NAME = {m.name: m for m in MODELS}
_FAULT_MODELS = {"chat": _BY_NAME["qwen-max"], "embedding": _BY_NAME["text-embedding-v4"],
                 "rerank": _BY_NAME["gte-rerank-v2"]}
_KINDS = {GENERATION: "chat", EMBEDDING: "embedding", RERANK: "rerank"}


class DashScopeError(HTTPError):
    """DashScope's `{"code", "message", "request_id"}` with the status it sends for that code."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        known_status, known_message = CODES.get(code, (500, code))
        self.code, self.message, self.request_id = code, message or known_message, str(uuid.uuid4())
        body = {"code": code, "message": self.message, "request_id": self.request_id}
        super().__init__(status or known_status, msgspec.json.encode(body), JSON_TYPE)

    def payload(self) -> JSON:
        return {"code": self.code, "message": self.message, "request_id": self.request_id}


def _invalid(message: str) -> DashScopeError:
    return DashScopeError("InvalidParameter", message)


# --- generation ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one answer holds."""

    input_tokens: int
    text: str = ""
    reasoning: str = ""
    calls: list[JSON] = field(default_factory=list)
    finish_reason: str = "stop"
    filtered: bool = False

    @property
    def output_tokens(self) -> int:
        return words(self.text) + words(self.reasoning) + sum(words(c["function"]["arguments"]) for c in self.calls)


def _number(parameters: JSON, name: str, low: float, high: float, high_open: bool = False) -> None:
    value = parameters.get(name)
    if value is None:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
    if bad or (high_open and value == high):
        raise _invalid(f"Range of {name} should be [{low}, {high}{')' if high_open else ']'}")


def _messages(body: JSON) -> list[JSON]:
    given = body.get("input")
    if not isinstance(given, dict):
        raise DashScopeError("BadRequest.EmptyInput", "Required input parameter missing from request.", 400)
    messages = given.get("messages")
    if messages is None and given.get("prompt") is None:
        raise _invalid('Either "prompt" or "messages" must exist and cannot both be none')
    messages = messages if messages is not None else [{"role": "user", "content": given["prompt"]}]
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages must be a non-empty array")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
            raise _invalid("Role must be in [system, user, assistant, tool]")
        if not isinstance(message.get("content", ""), str):
            raise _invalid("The content field is a required field and must be a string.")
    return messages


def _called(parameters: JSON, text: str) -> list[tuple[str, JSON]]:
    tools, choice = parameters.get("tools"), parameters.get("tool_choice", "auto")
    if choice not in ("auto", "none") and not (isinstance(choice, dict) and choice.get("type") == "function"):
        raise _invalid("tool_choice is invalid, it should be 'auto', 'none' or a function object")
    if choice == "none":
        return []
    if isinstance(choice, dict):
        named = (choice.get("function") or {}).get("name")
        tools = [t for t in tools or [] if (t.get("function") or {}).get("name") == named]
        text = f"{text} {named}"
    calls = called_tools(tools, text)
    return calls if parameters.get("parallel_tool_calls") is True else calls[:1]  # DashScope's default: false


def plan_generation(body: JSON, model: Model, stream: bool) -> Plan:
    """Validate a generation request against the model and decide its answer."""
    messages = _messages(body)
    parameters = body.get("parameters") or {}
    _number(parameters, "temperature", 0.0, 2.0, high_open=True)
    _number(parameters, "top_p", 0.0, 1.0)
    _number(parameters, "max_tokens", 1, model.max_output)
    plan = Plan(sum(words(str(m.get("content") or "")) for m in messages))
    if plan.input_tokens > model.context:
        raise _invalid(f"Range of input length should be [1, {model.context}]")
    users = [m for m in messages if m.get("role") == "user"]
    text = str(users[-1].get("content") or "") if users else ""
    if SENSITIVE_INPUT in text:
        raise DashScopeError("DataInspectionFailed", "Input data may contain inappropriate content.")
    _number(parameters, "thinking_budget", 1, THINKING_BUDGET_MAX)
    if parameters.get("enable_thinking") and model.thinking:
        thought, budget = pieces(f"The user said: {text}"), parameters.get("thinking_budget")
        plan.reasoning = "".join(thought[: int(budget)] if budget is not None else thought).rstrip()
    after = messages[messages.index(users[-1]) + 1:] if users else messages
    results = [str(m.get("content") or "") for m in after if m.get("role") == "tool"]
    calls = [] if results else _called(parameters, text)
    for index, (name, arguments) in enumerate(calls):
        encoded = json.dumps(arguments, ensure_ascii=False)
        plan.calls.append({"function": {"name": name, "arguments": encoded}, "index": index,
                           "id": call_id(index, name, encoded), "type": "function"})
    if plan.calls:
        plan.finish_reason = "tool_calls"
        return plan
    fmt = parameters.get("response_format") or {}
    plan.text = ("results: " + "; ".join(results) if results else
                 json.dumps({"echo": text}, ensure_ascii=False) if fmt.get("type") == "json_object" else
                 "echo: " + text)
    _limit(plan, parameters, SENSITIVE_OUTPUT in text, stream)
    return plan


def _limit(plan: Plan, parameters: JSON, sensitive: bool, stream: bool) -> None:
    stop = parameters.get("stop")
    for word in [stop] if isinstance(stop, str) else stop or []:
        if isinstance(word, str) and word and word in plan.text:
            plan.text = plan.text[: plan.text.index(word)]
    split = pieces(plan.text)
    limit = parameters.get("max_tokens")
    if sensitive:
        if not stream:
            raise DashScopeError("DataInspectionFailed", "Output data may contain inappropriate content.")
        plan.text, plan.filtered = "".join(split[:2]), True
    elif isinstance(limit, int) and limit < len(split):
        plan.text, plan.finish_reason = "".join(split[:limit]).rstrip(), "length"


def _usage(input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> JSON:
    usage: JSON = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                   "total_tokens": input_tokens + output_tokens}
    if reasoning_tokens:
        usage["output_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage


def _output(message: JSON, finish: str, as_text: bool) -> JSON:
    if as_text:
        return {"text": message.get("content", ""), "finish_reason": finish}
    return {"choices": [{"finish_reason": finish, "message": {"role": "assistant", **message}}]}


def generation(plan: Plan, request_id: str, as_text: bool) -> JSON:
    """The whole answer."""
    message: JSON = {"content": plan.text}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.calls:
        message["tool_calls"] = plan.calls
    return {"output": _output(message, plan.finish_reason, as_text),
            "usage": _usage(plan.input_tokens, plan.output_tokens, words(plan.reasoning)), "request_id": request_id}


def _deltas(plan: Plan) -> list[JSON]:
    """What each event adds: reasoning a word at a time, then the text a word at a time, or each call as its head
    (id, name, empty arguments) and its arguments in two halves."""
    deltas: list[JSON] = [{"content": "", "reasoning_content": piece} for piece in pieces(plan.reasoning)]
    for call in plan.calls:
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        deltas.append({"content": "", "tool_calls": [{**call, "function": {"name": call["function"]["name"],
                                                                            "arguments": ""}}]})
        deltas += [{"content": "", "tool_calls": [{"index": call["index"], "id": "", "type": "function",
                                                   "function": {"arguments": part}}]}
                   for part in (arguments[:half], arguments[half:])]
    return deltas + [{"content": piece} for piece in pieces(plan.text)]


def generation_events(plan: Plan, request_id: str, incremental: bool, as_text: bool) -> list[JSON]:
    """The stream's payloads; the last has the finish reason (none when the output filter stops it)."""
    events, so_far, produced, thought = [], "", 0, 0
    for delta in _deltas(plan):
        so_far += delta.get("content", "")
        thought += words(delta.get("reasoning_content", ""))
        produced += words(delta.get("content", "") + delta.get("reasoning_content", ""))
        message = delta if incremental else {**delta, "content": so_far}
        events.append({"output": _output(message, "null", as_text),
                       "usage": _usage(plan.input_tokens, produced, thought), "request_id": request_id})
    if not plan.filtered:
        last = {"content": ""} if incremental else {"content": so_far}
        events.append({"output": _output(last, plan.finish_reason, as_text),
                       "usage": _usage(plan.input_tokens, plan.output_tokens, words(plan.reasoning)),
                       "request_id": request_id})
    return events


def sse_event(number: int, payload: JSON, status: int = 200) -> bytes:
    kind = "result" if status == 200 else "error"
    return f"id:{number}\nevent:{kind}\n:HTTP_STATUS/{status}\ndata:".encode() + msgspec.json.encode(payload) + b"\n\n"


# --- embeddings and rerank ----------------------------------------------------------------------


def embed(body: JSON, model: Model, request_id: str) -> JSON:
    texts = (body.get("input") or {}).get("texts")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise _invalid("Value error, contents is neither str nor list of str.: input.contents")
    if len(texts) > model.batch:
        raise _invalid(f"Value error, batch size is invalid, it should not be larger than {model.batch}.: "
                       "input.contents")
    parameters = body.get("parameters") or {}
    dims = parameters.get("dimension", model.dimensions[0])
    if dims not in model.dimensions or isinstance(dims, bool):
        raise _invalid("Value error, dimension is invalid.: parameters.dimension")
    if parameters.get("text_type", "document") not in ("query", "document"):
        raise _invalid("Value error, text_type is invalid.: parameters.text_type")
    tokens = [max(1, words(text)) for text in texts]
    if max(tokens) > model.context:
        raise _invalid(f"Range of input length should be [1, {model.context}]")
    embeddings = [{"text_index": i, "embedding": embedding_vector(f"dashscope:{model.name}:{t}".encode(), dims)}
                  for i, t in enumerate(texts)]
    return {"output": {"embeddings": embeddings}, "usage": {"total_tokens": sum(tokens)}, "request_id": request_id}


def rerank(body: JSON, request_id: str) -> JSON:
    given = body.get("input") or {}
    query, documents = given.get("query"), given.get("documents")
    if not isinstance(query, str) or not query:
        raise _invalid("Value error, query is required.: input.query")
    if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
        raise _invalid("Value error, documents is required and must be a list of str.: input.documents")
    parameters = body.get("parameters") or {}
    top_n = parameters.get("top_n", len(documents))
    if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
        raise _invalid("Value error, top_n is invalid.: parameters.top_n")
    scored = sorted(((i, relevance(query, d)) for i, d in enumerate(documents)), key=lambda s: -s[1])[:top_n]
    shown = parameters.get("return_documents") is True
    results: list[JSON] = [{"index": i, "relevance_score": score, **({"document": {"text": documents[i]}} if shown
                                                                      else {})} for i, score in scored]
    tokens = words(query) * len(documents) + sum(words(d) for d in documents)
    return {"output": {"results": results}, "usage": {"total_tokens": tokens}, "request_id": request_id}


# --- the server ---------------------------------------------------------------------------------


class FakeDashScope(FakeUpstream):
    """The fake DashScope server; used as `with FakeDashScope("sk-...") as fake:`."""

    server_name = "fake-dashscope"
    fault_kinds = FAULT_KINDS | {"cut"}

    def __init__(self, api_key: str = "sk-f4kedashscope") -> None:
        super().__init__(api_key)

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v1"

    async def handle(self, request: Request, ex: Exchange) -> None:
        kind = _KINDS.get(request.path)
        if kind is None or request.method != "POST":
            raise DashScopeError("InvalidURL")
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise DashScopeError("InvalidApiKey", "No API-key provided.")
        if authorization[7:].strip() != self.api_key:
            raise DashScopeError("InvalidApiKey")
        try:
            body = json.loads(request.body)
        except ValueError:
            raise _invalid("Request body is not valid JSON.") from None
        name = body.get("model") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise DashScopeError("BadRequest.EmptyModel", 'Required parameter "model" missing from request.', 400)
        coded = _CODE_FAULT.fullmatch(name)
        if coded:
            raise DashScopeError(coded.group(1))
        fault = self.fault_for(name)
        if fault is not None and fault.kind == "status":
            raise DashScopeError(_STATUS_CODES.get(fault.status, "InternalError"), status=fault.status)
        model = _FAULT_MODELS[kind] if fault is not None else _BY_NAME.get(name)
        if model is None or model.kind != kind:
            raise _invalid("Model not exist.")
        if fault is not None and fault.kind == "stall" and not await self.stall(ex, fault.value):
            return
        request_id = str(uuid.uuid4())
        kind_of_fault, value = (fault.kind, fault.value) if fault is not None else (None, 0.0)
        if kind == "chat":
            await self._generate(ex, request, body, model, (request_id, kind_of_fault, value))
            return
        payload = embed(body, model, request_id) if kind == "embedding" else rerank(body, request_id)
        await answer(self, ex, payload, kind_of_fault, JSON_TYPE)

    async def _generate(self, ex: Exchange, request: Request, body: JSON, model: Model,
                        call: tuple[str, str | None, float]) -> None:
        request_id, fault, value = call
        stream = request.headers.get("x-dashscope-sse") == "enable" or "text/event-stream" in request.headers.get(
            "accept", "")
        plan = plan_generation(body, model, stream)
        parameters = body.get("parameters") or {}
        as_text = parameters.get("result_format", "text") != "message"
        if not stream:
            await answer(self, ex, generation(plan, request_id, as_text), fault, JSON_TYPE)
            return
        payloads = generation_events(plan, request_id, parameters.get("incremental_output") is True, as_text)
        events = [sse_event(i + 1, p) for i, p in enumerate(payloads)]
        if plan.filtered:
            failure = DashScopeError("DataInspectionFailed", "Output data may contain inappropriate content.")
            events.append(sse_event(len(events) + 1, failure.payload(), 400))
        if fault == "garbage":
            events = [events[0], b"id:2\nevent:result\n:HTTP_STATUS/200\ndata:" + GARBAGE + b"\n\n"]
        await self.stream(ex, EVENT_STREAM, events, cut=int(value) if fault == "cut" else None)
