"""A faithful fake of Ollama's native API for tests: `FakeOllama`.

A raw ASGI 3 application on `upstream_kit`; `base_url` is the server root, like `http://127.0.0.1:11434`.
Routes, as Ollama's server (`server/routes.go`, gin) serves them:

* `GET`/`HEAD /` → `Ollama is running` (text/plain); `GET /api/version` → `{"version"}`.
* `GET /api/tags` → `{"models": [{name, model, modified_at, size, digest, details}]}`, newest first.
* `POST /api/show` `{model}` → `{license, modelfile, parameters, template, details, model_info, capabilities,
  modified_at}`; an unknown model is a 404 `model 'x' not found`.
* `POST /api/chat` `{model, messages, tools?, format?, options?, stream? (default true), keep_alive?, think?}`;
  streamed as `application/x-ndjson` (one JSON object a line, the last with `done: true`), otherwise one
  `application/json; charset=utf-8` object. No messages: the `load` answer.
* `POST /api/embed` `{model, input: str | [str], truncate? (default true), dimensions?, options?, keep_alive?}` →
  `{model, embeddings, total_duration, load_duration, prompt_eval_count}`.

Anything else is gin's plain-text `404 page not found` (or `405 method not allowed` for a known path). Errors are
`{"error": "..."}`: a model that is not pulled → 404 `model "x" not found, try pulling it first`; a model without
a capability → 400 (`"nomic-embed-text" does not support chat`, `registry.ollama.ai/library/llava:latest does not
support tools`, `"llama3.2" does not support thinking`); a field of the wrong JSON type → 400 with Go's unmarshal
message (`content` must be a string, tool call `arguments` an object, `images` base64). With an `api_key` (Ollama
behind a proxy, or ollama.com) every `/api` route needs `Authorization: Bearer <key>`, else 401 `unauthorized`.

Replies are deterministic (tokens are `openai_wire.words`, as in the other fakes):

* Text: `"echo: " + <content of the last user message>`, plus ` [images: N]` for its images; after tool
  results, `"results: <tool_name> returned <content>; ..."`. `options.stop` cuts the text before the first match;
  `options.num_predict` keeps that many words (`done_reason: length`).
* Tools: every offered function whose name is a word of the last user message is called, in order; arguments
  fill every property of its `parameters` from `<property>=<value>` in the text, else a sample of its type. Calls
  come with ids `call_<8 chars>` and `function.index`, as Ollama 0.12 sends them, in one stream line.
* `format`: `"json"` answers `{"echo": <text>}`, a schema answers a sample of it, as a JSON string.
* Thinking: qwen3 thinks unless `think` is false (Ollama's default for thinking models); its `thinking` comes
  first in a stream, before the content.
* Tokens: prompt = words of every message content (tools' JSON too); eval = words of the answer (and thinking).
* Embeddings: `openai_wire.embedding_vector` of (model, text) at the model's width, unit length; `dimensions`
  keeps a prefix, re-normalised as Ollama does; an input longer than the model's context is cut to it (or, with
  `truncate: false`, a 400).

Faults come from the model (or the server-wide `fault`): `fault-status-<code>` (an `{"error"}` of that status),
`fault-stall-<seconds>`, `fault-garbage` (200 text/html; streamed, a line that is not JSON), `fault-cut-<n>`
(streamed: n lines, then the connection drops; otherwise half of the body) and `fault-stream-error` (streamed:
two lines, then `{"error": ...}` as Ollama writes a runner failure mid-stream; otherwise a 500). A fault model
chats and embeds like a small model with tools. Every request is recorded.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tests.fakes.openai_wire import embedding_vector, pieces, words
from tests.fakes.upstream_kit import FAULT_KINDS, GARBAGE, JSON, Exchange, FakeUpstream, HTTPError, Request

__all__ = ["MODELS", "NDJSON", "FakeOllama", "OllamaError", "OllamaModel", "sample"]

VERSION = "0.12.6"
NDJSON = "application/x-ndjson"
JSON_TYPE = "application/json; charset=utf-8"
STREAM_ERROR = "fault-stream-error"
RUNNER_FAILURE = "an error was encountered while running the model: unexpected EOF"
_TEXT = "text/plain; charset=utf-8"
_ASSIGNMENT = re.compile(r"(\w+)=(\"[^\"]*\"|[^\s,;]+)")
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_MODIFIED = datetime.datetime(2025, 9, 1, 12, 0, tzinfo=datetime.UTC)
_PATHS = {"/": ("GET", "HEAD"), "/api/version": ("GET", "HEAD"), "/api/tags": ("GET", "HEAD"),
          "/api/show": ("POST",), "/api/chat": ("POST",), "/api/embed": ("POST",)}


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OllamaModel:
    """A pulled model; `capabilities` as `/api/show` lists them (completion, tools, vision, thinking, embedding)."""

    name: str
    family: str
    parameter_size: str
    capabilities: tuple[str, ...]
    context_length: int = 131072
    embedding_length: int = 3072
    quantization: str = "Q4_K_M"
    size: int = 2_019_393_189
    age_days: int = 0

    @property
    def short(self) -> str:
        return self.name.removesuffix(":latest")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def modified(self) -> str:
        return (_MODIFIED - datetime.timedelta(days=self.age_days)).isoformat()

    def details(self) -> JSON:
        return {"parent_model": "", "format": "gguf", "family": self.family, "families": [self.family],
                "parameter_size": self.parameter_size, "quantization_level": self.quantization}

    def listed(self) -> JSON:
        return {"name": self.name, "model": self.name, "modified_at": self.modified(), "size": self.size,
                "digest": self.digest, "details": self.details()}

    def shown(self) -> JSON:
        info = {"general.architecture": self.family, "general.parameter_count": self.size // 2,
                f"{self.family}.context_length": self.context_length,
                f"{self.family}.embedding_length": self.embedding_length}
        return {"license": "", "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {self.name}\n",
                "parameters": 'stop                           "<|eot_id|>"', "template": "{{ .Prompt }}",
                "details": self.details(), "model_info": info, "capabilities": list(self.capabilities),
                "modified_at": self.modified()}


MODELS: tuple[OllamaModel, ...] = (
    OllamaModel("llama3.2:latest", "llama", "3.2B", ("completion", "tools")),
    OllamaModel("qwen3:latest", "qwen3", "8.2B", ("completion", "tools", "thinking"), 40960, 4096,
                size=5_225_387_923, age_days=1),
    OllamaModel("llava:latest", "llama", "7B", ("completion", "vision"), 32768, 4096, size=4_733_363_377,
                age_days=2),
    OllamaModel("nomic-embed-text:latest", "nomic-bert", "137M", ("embedding",), 2048, 768, "F16",
                size=274_302_450, age_days=3),
    OllamaModel("all-minilm:latest", "bert", "23M", ("embedding",), 512, 384, "F16", size=45_960_996, age_days=4),
)
_BY_NAME = {m.name: m for m in MODELS}


def canonical(name: str) -> str:
    """Ollama's full tag: names are case-insensitive and the tag defaults to `latest`."""
    name = name.lower()
    return name if ":" in name.rpartition("/")[2] else f"{name}:latest"


def _fault_model(name: str) -> OllamaModel:
    return OllamaModel(canonical(name), "llama", "1B", ("completion", "tools", "embedding"), 4096, 768)


# --- errors -------------------------------------------------------------------------------------


class OllamaError(HTTPError):
    """Ollama's `{"error": "..."}` with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, msgspec.json.encode({"error": message}), JSON_TYPE)
        self.message = message


def not_pulled(model: str) -> OllamaError:
    return OllamaError(404, f'model "{model}" not found, try pulling it first')


_FAULT_MESSAGES = {400: "invalid request", 401: "unauthorized", 403: "forbidden", 429: "too many requests",
                   499: "request canceled", 500: "llama runner process has terminated: exit status 2",
                   503: "server busy, please try again.  maximum pending requests exceeded"}


def fault_status(status: int, model: str) -> OllamaError:
    if status == 404:
        return not_pulled(model)
    return OllamaError(status, _FAULT_MESSAGES.get(status, f"unexpected server status: {status}"))


def _unmarshal(kind: str, where: str, go_type: str) -> OllamaError:
    return OllamaError(400, f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "null")


def _decode(body: bytes) -> JSON:
    if not body.strip():
        raise OllamaError(400, "missing request body")
    try:
        value = json.loads(body)
    except ValueError:
        first = body.strip()[:1].decode("latin-1")
        raise OllamaError(400, f"invalid character '{first}' looking for beginning of value") from None
    if not isinstance(value, dict):
        raise OllamaError(400, f"json: cannot unmarshal {_json_kind(value)} into Go value of type api.ChatRequest")
    return value


# --- chat ---------------------------------------------------------------------------------------


def sample(schema: Any, name: str = "") -> Any:
    """A value of the JSON schema's type: the first enum value, one item, every property."""
    if not isinstance(schema, dict):
        return "example"
    if schema.get("enum"):
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return sample(options[0], name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {key: sample(sub, key) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items"), name)]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "example")


def _argument(value: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    value = value.strip('"')
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return sample(schema)
    if kind == "boolean":
        return value.lower() == "true"
    return value


@dataclass
class Plan:
    """What one chat answer holds."""

    prompt_tokens: int
    text: str = ""
    thinking: str = ""
    calls: list[JSON] = field(default_factory=list)
    done_reason: str = "stop"

    @property
    def eval_tokens(self) -> int:
        if self.calls:
            return sum(words(json.dumps(c["function"]["arguments"])) for c in self.calls)
        return words(self.text) + words(self.thinking)


def _check_message(message: Any) -> JSON:
    where = "ChatRequest.messages"
    if not isinstance(message, dict):
        raise _unmarshal(_json_kind(message), where, "api.Message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise _unmarshal(_json_kind(content), f"Message.{where}.content", "string")
    images = message.get("images") or []
    if not isinstance(images, list):
        raise _unmarshal(_json_kind(images), f"Message.{where}.images", "[]api.ImageData")
    for image in images:
        if not isinstance(image, str):
            raise _unmarshal(_json_kind(image), f"Message.{where}.images", "api.ImageData")
        try:
            base64.b64decode(image, validate=True)
        except binascii.Error:
            bad = next((i for i, ch in enumerate(image) if not (ch.isalnum() or ch in "+/=")), 0)
            raise OllamaError(400, f"illegal base64 data at input byte {bad}") from None
    for call in message.get("tool_calls") or []:
        arguments = call.get("function", {}).get("arguments") if isinstance(call, dict) else None
        if not isinstance(arguments, dict):
            raise _unmarshal(_json_kind(arguments), f"ToolCallFunction.{where}.tool_calls.function.arguments",
                             "api.ToolCallFunctionArguments")
    return message


def _check_options(options: Any) -> JSON:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise _unmarshal(_json_kind(options), "ChatRequest.options", "map[string]interface {}")
    for key, value in options.items():
        if key in ("temperature", "top_p", "presence_penalty", "frequency_penalty", "min_p", "repeat_penalty") \
                and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise OllamaError(400, f'option "{key}" must be of type float32')
        if key in ("num_predict", "top_k", "seed", "num_ctx") and (not isinstance(value, int | float)
                                                                   or isinstance(value, bool)):
            raise OllamaError(400, f'option "{key}" must be of type integer')
        if key == "stop" and (not isinstance(value, list) or not all(isinstance(s, str) for s in value)):
            raise OllamaError(400, f'option "{key}" must be of type array')
    return options


def _calls(tools: list[Any], text: str) -> list[JSON]:
    said = set(re.findall(r"\w+", text))
    given = {key: value for key, value in _ASSIGNMENT.findall(text)}
    calls: list[JSON] = []
    for tool in tools:
        function = tool.get("function", {}) if isinstance(tool, dict) else {}
        name = function.get("name")
        if name not in said:
            continue
        properties = (function.get("parameters") or {}).get("properties") or {}
        arguments = {key: _argument(given[key], schema) if key in given else sample(schema, key)
                     for key, schema in properties.items()}
        digest = hashlib.sha256(f"{len(calls)}:{name}:{json.dumps(arguments)}".encode()).digest()
        call_id = "call_" + "".join(_ID_CHARS[b % len(_ID_CHARS)] for b in digest[:8])
        calls.append({"id": call_id, "function": {"index": len(calls), "name": name, "arguments": arguments}})
    return calls


def plan_chat(body: JSON, model: OllamaModel) -> Plan:
    """Validate a chat request against the model and decide its answer."""
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        raise _unmarshal(_json_kind(messages), "ChatRequest.messages", "[]api.Message")
    messages = [_check_message(m) for m in messages]
    tools = body.get("tools") or []
    if "embedding" in model.capabilities and "completion" not in model.capabilities:
        raise OllamaError(400, f'"{body["model"]}" does not support chat')
    if tools and "tools" not in model.capabilities:
        raise OllamaError(400, f"registry.ollama.ai/library/{model.name} does not support tools")
    think = body.get("think")
    if think not in (None, False) and "thinking" not in model.capabilities:
        raise OllamaError(400, f'"{body["model"]}" does not support thinking')
    options = _check_options(body.get("options"))
    prompt = sum(words(str(m.get("content") or "")) for m in messages) + words(json.dumps(tools) if tools else "")
    plan = Plan(prompt)
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, f"{message.get('tool_name', '')} returned {message.get('content', '')}")
    users = [m for m in messages if m.get("role") == "user"]
    text = str(users[-1].get("content") or "") if users else ""
    images = len(users[-1].get("images") or []) if users else 0
    if "thinking" in model.capabilities and think is not False:
        plan.thinking = f"The user said: {text}"
    if results:
        plan.text = "results: " + "; ".join(results)
    else:
        plan.calls = _calls(tools, text)
    if plan.calls:
        return plan
    fmt = body.get("format")
    if fmt == "json":
        plan.text = json.dumps({"echo": text})
    elif isinstance(fmt, dict):
        plan.text = json.dumps(sample(fmt))
    elif not results:
        plan.text = "echo: " + text + (f" [images: {images}]" if images else "")
    for stop in options.get("stop") or []:
        if stop and stop in plan.text:
            plan.text = plan.text[: plan.text.index(stop)]
    limit = options.get("num_predict")
    split = pieces(plan.text)
    if isinstance(limit, int) and 0 <= limit < len(split):
        plan.text, plan.done_reason = "".join(split[:limit]).rstrip(), "length"
    return plan


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _line(model: str, message: JSON, done: bool = False) -> JSON:
    return {"model": model, "created_at": _now(), "message": {"role": "assistant", **message}, "done": done}


def _final(model: str, plan: Plan, message: JSON) -> JSON:
    final = _line(model, message, True)
    final.pop("done")
    final |= {"done_reason": plan.done_reason, "done": True, "total_duration": 1_250_000 * (1 + plan.eval_tokens),
              "load_duration": 21_000_000}
    if plan.prompt_tokens:
        final |= {"prompt_eval_count": plan.prompt_tokens, "prompt_eval_duration": 300_000 * plan.prompt_tokens}
    if plan.eval_tokens:
        final |= {"eval_count": plan.eval_tokens, "eval_duration": 1_000_000 * plan.eval_tokens}
    return final


def chat_response(model: str, plan: Plan) -> JSON:
    """The whole answer (`stream: false`)."""
    message: JSON = {"content": plan.text}
    if plan.thinking:
        message["thinking"] = plan.thinking
    if plan.calls:
        message["tool_calls"] = plan.calls
    return _final(model, plan, message)


def chat_lines(model: str, plan: Plan) -> list[JSON]:
    """The stream: thinking a word a line, then the content a word a line (or the calls in one line), then the
    closing line with the reason and the counts."""
    lines = [_line(model, {"content": "", "thinking": piece}) for piece in pieces(plan.thinking)]
    if plan.calls:
        lines.append(_line(model, {"content": "", "tool_calls": plan.calls}))
    else:
        lines += [_line(model, {"content": piece}) for piece in pieces(plan.text)]
    return [*lines, _final(model, plan, {"content": ""})]


# --- embeddings ---------------------------------------------------------------------------------


def embed(body: JSON, model: OllamaModel) -> JSON:
    """`/api/embed`: one unit vector an input, in order."""
    given = body.get("input")
    if isinstance(given, str):
        inputs = [given] if given else []
    elif isinstance(given, list) and all(isinstance(item, str) for item in given):
        inputs = list(given)
    elif given is None:
        inputs = []
    else:
        raise OllamaError(400, "invalid input type")
    if not inputs:
        return {"model": body["model"], "embeddings": []}
    truncate = body.get("truncate", True) is not False
    dims = body.get("dimensions")
    vectors, tokens = [], 0
    for text in inputs:
        split = text.split()
        if len(split) > model.context_length:
            if not truncate:
                raise OllamaError(400, "the input length exceeds the context length")
            text = " ".join(split[: model.context_length])
        tokens += max(1, words(text))
        vector = embedding_vector(f"ollama:{model.name}:{text}".encode(), model.embedding_length)
        if isinstance(dims, int) and 0 < dims < len(vector):
            norm = math.sqrt(sum(v * v for v in vector[:dims])) or 1.0
            vector = [v / norm for v in vector[:dims]]
        vectors.append(vector)
    return {"model": body["model"], "embeddings": vectors, "total_duration": 14_000_000 * len(inputs),
            "load_duration": 1_000_000, "prompt_eval_count": tokens}


# --- the server ---------------------------------------------------------------------------------


class FakeOllama(FakeUpstream):
    """The fake Ollama server; also usable as `with FakeOllama() as fake:`."""

    server_name = "fake-ollama"
    fault_kinds = FAULT_KINDS | {"cut"}

    async def handle(self, request: Request, ex: Exchange) -> None:
        methods = _PATHS.get(request.path)
        if methods is None:
            raise HTTPError.text(404, "404 page not found")
        if request.method not in methods:
            raise HTTPError.text(405, "405 method not allowed")
        if request.path == "/":
            await ex.body(200, b"" if request.method == "HEAD" else b"Ollama is running", _TEXT)
            return
        self._authenticate(request)
        if request.path == "/api/version":
            await ex.json(200, {"version": VERSION})
        elif request.path == "/api/tags":
            await self._answer(ex, self.fault, {"models": [m.listed() for m in MODELS]})
        else:
            body = _decode(request.body)
            model_name = body.get("model") or body.get("name")
            if not isinstance(model_name, str) or not model_name:
                raise OllamaError(400, "model is required")
            if request.path == "/api/show":
                await self._answer(ex, self.fault, _show(model_name))
            else:
                await self._infer(request.path, body, model_name, ex)

    def _authenticate(self, request: Request) -> None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise OllamaError(401, "unauthorized")

    async def _answer(self, ex: Exchange, fault_name: str | None, payload: JSON) -> None:
        fault = self.fault_for(fault_name)
        if fault is not None and fault.kind == "status":
            raise fault_status(fault.status, fault_name or "")
        if fault is not None and fault.kind == "stall" and not await self.stall(ex, fault.value):
            return
        if fault is not None and fault.kind == "garbage":
            await ex.garbage()
            return
        data = msgspec.json.encode(payload)
        if fault is not None and fault.kind == "cut":
            await self.stream(ex, JSON_TYPE, [data[: len(data) // 2]], length=len(data), cut=1)
            return
        await ex.body(200, data, JSON_TYPE)

    async def _infer(self, path: str, body: JSON, name: str, ex: Exchange) -> None:
        fault = self.fault_for(name)
        faulty = fault is not None or name == STREAM_ERROR
        model = _fault_model(name) if faulty else _BY_NAME.get(canonical(name))
        if model is None:
            raise not_pulled(name)
        if path == "/api/embed":
            await self._answer(ex, name if fault else None, embed(body, model))
            return
        stream = body.get("stream", True) is not False
        plan = plan_chat(body, model)
        if not body.get("messages"):
            await ex.json(200, _line(name, {"content": ""}, True) | {"done_reason": "load"})
        elif name == STREAM_ERROR:
            await self._stream_error(ex, name, plan, stream)
        elif stream and (fault is None or fault.kind == "cut"):
            lines = [msgspec.json.encode(line) + b"\n" for line in chat_lines(name, plan)]
            await self.stream(ex, NDJSON, lines, cut=int(fault.value) if fault is not None else None)
        elif stream and fault is not None and fault.kind == "garbage":
            await self.stream(ex, NDJSON, [msgspec.json.encode(chat_lines(name, plan)[0]) + b"\n", GARBAGE + b"\n"])
        elif stream and fault is not None and fault.kind == "stall":
            if await self.stall(ex, fault.value):
                await self.stream(ex, NDJSON, [msgspec.json.encode(line) + b"\n" for line in chat_lines(name, plan)])
        else:
            await self._answer(ex, name if fault else None, chat_response(name, plan))

    async def _stream_error(self, ex: Exchange, name: str, plan: Plan, stream: bool) -> None:
        if not stream:
            raise OllamaError(500, RUNNER_FAILURE)
        lines = [msgspec.json.encode(line) + b"\n" for line in chat_lines(name, plan)[:2]]
        await self.stream(ex, NDJSON, [*lines, msgspec.json.encode({"error": RUNNER_FAILURE}) + b"\n"])


def _show(name: str) -> JSON:
    model = _BY_NAME.get(canonical(name))
    if model is None:
        raise OllamaError(404, f"model '{name}' not found")
    return model.shown()
