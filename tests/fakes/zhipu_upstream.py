"""A faithful fake of Zhipu AI's open platform API v4 (`open.bigmodel.cn/api/paas/v4`) for tests: `FakeZhipu`.

A raw ASGI 3 application on `upstream_kit`; `base_url` is the server root and `api_url` the v4 base the SDK and
the gateway take (`<root>/api/paas/v4`). Routes, as Zhipu's API reference (docs.bigmodel.cn) documents them:

* `POST /chat/completions` `{model, messages, stream?, temperature? [0, 1], top_p? (0, 1], max_tokens?,
  stop? (one word), tools?, tool_choice? (only "auto"), response_format? ({"type": "text" | "json_object"}),
  thinking? ({"type": "enabled" | "disabled"}), do_sample?, request_id?, user_id?}`. The answer is OpenAI's chat
  completion without `object`, with Zhipu's `id` (`<yyyymmddHHMMSS><16 hex>`), `request_id`, `created`,
  `model`, and usage with
  `prompt_tokens_details.cached_tokens`. Streamed (`text/event-stream;charset=UTF-8`): chunks have no `object`
  either (as recorded from the live API), every chunk's delta carries `role: assistant`; the last chunk has the
  `finish_reason` and the `usage`; then `data: [DONE]`.
* `POST /embeddings` `{model, input: str | [str] (embedding-3: at most 64), dimensions?}` →
  `{model, data: [{index, object: embedding, embedding}], object: list, usage}`; embedding-3 is 2048 wide unless
  `dimensions` asks for 256, 512 or 1024; embedding-2 is 1024.

Authentication is `Authorization: Bearer <api key>` (keys look like `<id>.<secret>`), or the JWT the official SDK
signs with the secret (HS256, header `sign_type: SIGN`, payload `{api_key: <id>, exp, timestamp}` in ms).
Missing → 401 `1001`; a key that is not this one → 401 `401` (`令牌已过期或验证不正确！`); a JWT that does not
verify → 401 `1002`, one past its `exp` → 401 `1003`.

Errors are `{"error": {"code": "<business code>", "message": "..."}}` with the statuses Zhipu sends (see
`BUSINESS`): an unknown model is a 400 `1211`, a prompt over the model's window a 400 `1261`, a bad parameter a
400 `1214` naming it, an account in arrears a 429 `1113`. An unknown path is Spring's 404 body.

Replies are deterministic (tokens are `openai_wire.words`):

* Text: `"echo: " + <text of the last user message>` (` [images: N]` for image parts, vision models only);
  after tool results, `"results: <content>; ..."`. `stop` cuts the text before the word; `max_tokens` keeps that
  many words (`finish_reason: length`). `response_format` json_object answers `{"echo": <text>}`.
* Tools: every offered function whose name is a word of the last user message is called, in order, with
  arguments from `<property>=<value>` words (the value as JSON if it parses; a property not given gets a sample
  of its type); ids are `call_<19 digits>`. Streamed, each call comes whole in one delta, as Zhipu sends them.
* Thinking models (glm-4.5 and later) think unless `thinking.type` is `disabled`: `reasoning_content` is
  `The user said: <text>`, streamed before the content.
* Content review: a user text holding `SENSITIVE_INPUT` is a 400 `1301`; holding `SENSITIVE_OUTPUT`, the answer
  stops after two words with `finish_reason: sensitive`.

Faults come from the model name (or the server-wide `fault`): `fault-status-<code>` (that status with Zhipu's
body for it), `fault-code-<business code>` (the status and body Zhipu sends with that code), `fault-stall-<s>`,
`fault-garbage` (200 text/html; streamed, an event that is not JSON), `fault-cut-<n>` (streamed: n events, then
the connection drops; otherwise half of the body) and `fault-network-error` (the answer ends with
`finish_reason: network_error`). A fault model chats and embeds like glm-4-flash. Every request is recorded.
"""

# ruff: noqa: RUF001, RUF002 - Zhipu's messages are Chinese, written with full-width punctuation as Chinese is

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tests.fakes.ollama_upstream import sample
from tests.fakes.openai_wire import embedding_vector, pieces, words
from tests.fakes.upstream_kit import FAULT_KINDS, GARBAGE, JSON, Exchange, FakeUpstream, HTTPError, Request, sse

__all__ = ["BUSINESS", "MODELS", "NETWORK_ERROR", "SENSITIVE_INPUT", "SENSITIVE_OUTPUT", "FakeZhipu", "ZhipuError",
           "ZhipuModel", "answer", "call_id", "called_tools", "sign_token"]

PREFIX = "/api/paas/v4"
EVENT_STREAM = "text/event-stream;charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"
SENSITIVE_INPUT = "forbidden-topic"
SENSITIVE_OUTPUT = "touchy-topic"
NETWORK_ERROR = "fault-network-error"
MAX_EMBEDDING_INPUTS = 64
_ASSIGNMENT = re.compile(r"(\w+)=(\"[^\"]*\"|[^\s,;]+)")
_CODE_FAULT = re.compile(r"fault-code-(\d+)")

BUSINESS: dict[str, tuple[int, str]] = {
    "500": (500, "内部错误"),
    "1000": (401, "身份验证失败。"),
    "1001": (401, "Header中未收到Authorization参数，无法进行身份验证。"),
    "1002": (401, "Authorization Token非法，请确认Authorization Token正确传递。"),
    "1003": (401, "Authorization Token已过期，请重新生成/获取。"),
    "1004": (401, "通过Authorization Token的验证失败。"),
    "401": (401, "令牌已过期或验证不正确！"),
    "1112": (429, "您的账户已被锁定，请联系客服解锁。"),
    "1113": (429, "您的账户已欠费，请充值后重试。"),
    "1210": (400, "API 调用参数有误，请检查文档。"),
    "1211": (400, "模型不存在，请检查模型代码。"),
    "1214": (400, "{field} 参数非法。请检查文档。"),
    "1220": (403, "您无权访问该API。"),
    "1261": (400, "Prompt exceeds max length"),
    "1301": (400, "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                  "请您避免输入易产生敏感内容的提示语，感谢您的配合。"),
    "1302": (429, "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"),
    "1303": (429, "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。"),
    "1305": (429, "当前API请求过多，请稍后重试。"),
    "1312": (429, "该模型当前访问量过大，请您稍后再试"),
}
"""Business code → (HTTP status, message) as Zhipu answers them."""
_STATUS_CODES = {400: "1214", 401: "1002", 403: "1220", 429: "1302", 500: "500"}
"""The business code a bare `fault-status-<code>` answers with."""


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZhipuModel:
    """A model the fake serves: chat (`context`, `max_output`) or embedding (`dimensions`)."""

    name: str
    context: int
    max_output: int = 0
    thinking: bool = False
    vision: bool = False
    dimensions: tuple[int, ...] = ()


MODELS: tuple[ZhipuModel, ...] = (
    ZhipuModel("glm-4.6", 200_000, 128_000, thinking=True),
    ZhipuModel("glm-4.5", 128_000, 96_000, thinking=True),
    ZhipuModel("glm-4.5-air", 128_000, 96_000, thinking=True),
    ZhipuModel("glm-4.5-flash", 128_000, 96_000, thinking=True),
    ZhipuModel("glm-4.5v", 64_000, 16_384, thinking=True, vision=True),
    ZhipuModel("glm-4-plus", 128_000, 4095),
    ZhipuModel("glm-4-flash", 128_000, 4095),
    ZhipuModel("embedding-3", 3072, dimensions=(2048, 1024, 512, 256)),
    ZhipuModel("embedding-2", 512, dimensions=(1024,)),
)
_BY_NAME = {m.name: m for m in MODELS}
_FAULT_MODEL = ZhipuModel("fault", 128_000, 4095, dimensions=(2048, 1024, 512, 256))


# --- errors -------------------------------------------------------------------------------------


class ZhipuError(HTTPError):
    """Zhipu's `{"error": {"code", "message"}}` with the status it sends for that code."""

    def __init__(self, code: str, field_name: str = "", status: int | None = None) -> None:
        known_status, message = BUSINESS.get(code, (status or 500, f"unexpected error {code}"))
        self.code, self.message = code, message.replace("{field}", field_name)
        super().__init__(status or known_status, msgspec.json.encode({"error": {"code": code,
                                                                                "message": self.message}}), JSON_TYPE)


def fault_status(status: int) -> HTTPError:
    if status == 404:
        return _not_found("/api/paas/v4/chat/completions")
    code = _STATUS_CODES.get(status)
    return ZhipuError(code, "messages") if code else ZhipuError(str(status), status=status)


def _not_found(path: str) -> HTTPError:
    body = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()), "status": 404,
            "error": "Not Found", "path": path}
    return HTTPError.json(404, body)


def _invalid(name: str) -> ZhipuError:
    return ZhipuError("1214", name)


# --- authentication -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(api_key: str, ttl_s: float = 210.0) -> str:
    """The JWT Zhipu's SDK sends for `api_key` (`<id>.<secret>`), as `zhipuai.core._jwt_token` builds it."""
    key_id, _, secret = api_key.partition(".")
    now = int(time.time() * 1000)
    header = _b64(json.dumps({"alg": "HS256", "sign_type": "SIGN"}).encode())
    payload = _b64(json.dumps({"api_key": key_id, "exp": now + int(ttl_s * 1000), "timestamp": now}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _check_token(token: str, api_key: str) -> None:
    key_id, _, secret = api_key.partition(".")
    header, payload, signature = token.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    try:
        claims = json.loads(_unb64(payload))
        valid = hmac.compare_digest(_unb64(signature), expected) and claims.get("api_key") == key_id
    except (ValueError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise ZhipuError("1002")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time() * 1000:
        raise ZhipuError("1003")


# --- chat ---------------------------------------------------------------------------------------


def _text(content: Any) -> tuple[str, int]:
    """(text, image parts) of a message content: a string or Zhipu's `text` / `image_url` parts."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    parts = [p for p in content if isinstance(p, dict)]
    return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text"), sum(
        1 for p in parts if p.get("type") == "image_url")


def _argument(value: str) -> Any:
    """A `name=value` word's value: JSON when it parses (`3`, `true`, `"a b"`), else the text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def called_tools(tools: Any, text: str) -> list[tuple[str, JSON]]:
    """(name, arguments) of every offered function named by a word of `text`, in the order offered."""
    said = set(re.findall(r"\w+", text))
    given = dict(_ASSIGNMENT.findall(text))
    calls: list[tuple[str, JSON]] = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function", {}) if isinstance(tool, dict) else {}
        if function.get("name") not in said:
            continue
        properties = (function.get("parameters") or {}).get("properties") or {}
        calls.append((function["name"], {key: _argument(given[key]) if key in given else sample(schema, key)
                                         for key, schema in properties.items()}))
    return calls


def call_id(index: int, name: str, arguments: str) -> str:
    digest = hashlib.sha256(f"{index}:{name}:{arguments}".encode()).digest()
    return "call_" + str(int.from_bytes(digest[:8], "big") % 10**19).zfill(19)


@dataclass
class Plan:
    """What one chat answer holds."""

    prompt_tokens: int
    text: str = ""
    reasoning: str = ""
    calls: list[JSON] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def completion_tokens(self) -> int:
        called = sum(words(c["function"]["arguments"]) for c in self.calls)
        return called + words(self.text) + words(self.reasoning)


def _number(body: JSON, name: str, low: float, high: float, *, low_open: bool = False) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value > high or value < low or (
            low_open and value == low):
        raise _invalid(name)


def _check_chat(body: JSON, model: ZhipuModel) -> list[JSON]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _invalid("messages")
    _number(body, "temperature", 0.0, 1.0)
    _number(body, "top_p", 0.0, 1.0, low_open=True)
    limit = body.get("max_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit
                              <= model.max_output):
        raise _invalid("max_tokens")
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 1)):
        raise _invalid("stop")
    if body.get("tool_choice", "auto") != "auto":
        raise _invalid("tool_choice")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object")):
        raise _invalid("response_format")
    return messages


def plan_chat(body: JSON, model: ZhipuModel) -> Plan:
    """Validate a chat request against the model and decide its answer."""
    messages = _check_chat(body, model)
    prompt = sum(words(_text(m.get("content"))[0]) for m in messages)
    prompt += words(json.dumps(body["tools"])) if body.get("tools") else 0
    if prompt > model.context:
        raise ZhipuError("1261")
    users = [m for m in messages if m.get("role") == "user"]
    text, images = _text(users[-1].get("content")) if users else ("", 0)
    if SENSITIVE_INPUT in text:
        raise ZhipuError("1301")
    if images and not model.vision:
        raise _invalid("messages")
    plan = Plan(prompt)
    thinking = body.get("thinking")
    if model.thinking and not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        plan.reasoning = f"The user said: {text}"
    results = [_text(m.get("content"))[0] for m in messages[messages.index(users[-1]) + 1 if users else 0:]
               if m.get("role") == "tool"]
    calls = [] if results else called_tools(body.get("tools"), text)
    if calls:
        for index, (name, arguments) in enumerate(calls):
            encoded = json.dumps(arguments, ensure_ascii=False)
            plan.calls.append({"id": call_id(index, name, encoded), "index": index, "type": "function",
                               "function": {"name": name, "arguments": encoded}})
        plan.finish_reason = "tool_calls"
        return plan
    if results:
        plan.text = "results: " + "; ".join(results)
    elif (body.get("response_format") or {}).get("type") == "json_object":
        plan.text = json.dumps({"echo": text}, ensure_ascii=False)
    else:
        plan.text = "echo: " + text + (f" [images: {images}]" if images else "")
    _limit(plan, body, text)
    return plan


def _limit(plan: Plan, body: JSON, text: str) -> None:
    stop = body.get("stop")
    for word in [stop] if isinstance(stop, str) else stop or []:
        if word and word in plan.text:
            plan.text = plan.text[: plan.text.index(word)]
    split = pieces(plan.text)
    limit = body.get("max_tokens")
    if SENSITIVE_OUTPUT in text and len(split) > 2:
        plan.text, plan.finish_reason = "".join(split[:2]), "sensitive"
    elif isinstance(limit, int) and limit < len(split):
        plan.text, plan.finish_reason = "".join(split[:limit]).rstrip(), "length"


def _usage(plan: Plan) -> JSON:
    return {"prompt_tokens": plan.prompt_tokens, "completion_tokens": plan.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "total_tokens": plan.prompt_tokens + plan.completion_tokens}


def _message(plan: Plan) -> JSON:
    message: JSON = {"content": plan.text, "role": "assistant"}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.calls:
        message["tool_calls"] = plan.calls
    return message


def chat_response(meta: JSON, plan: Plan) -> JSON:
    """The whole answer (`stream` false)."""
    choice = {"finish_reason": plan.finish_reason, "index": 0, "message": _message(plan)}
    return {"choices": [choice], **meta, "request_id": meta["id"], "usage": _usage(plan)}


def chat_chunks(meta: JSON, plan: Plan) -> list[JSON]:
    """The stream: the reasoning a word a chunk, then the content a word a chunk (or each call whole), then the
    chunk with the finish reason and the usage."""
    def chunk(delta: JSON, finish: str | None = None) -> JSON:
        choice: JSON = {"index": 0, "delta": {"role": "assistant", **delta}}
        if finish is not None:
            choice["finish_reason"] = finish
        return {**meta, "choices": [choice]}

    chunks = [chunk({"reasoning_content": piece}) for piece in pieces(plan.reasoning)]
    chunks += [chunk({"tool_calls": [call]}) for call in plan.calls]
    chunks += [chunk({"content": piece}) for piece in pieces(plan.text)]
    return [*chunks, chunk({"content": ""}, plan.finish_reason) | {"usage": _usage(plan)}]


# --- embeddings ---------------------------------------------------------------------------------


def embed(body: JSON, model: ZhipuModel) -> JSON:
    """`/embeddings`: one unit vector an input, in order."""
    given = body.get("input")
    inputs = [given] if isinstance(given, str) else given
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
        raise _invalid("input")
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise _invalid("input")
    dims = body.get("dimensions", model.dimensions[0])
    if dims not in model.dimensions or isinstance(dims, bool):
        raise _invalid("dimensions")
    tokens = [max(1, words(text)) for text in inputs]
    if max(tokens) > model.context:
        raise ZhipuError("1261")
    data = [{"embedding": embedding_vector(f"zhipu:{model.name}:{text}".encode(), dims), "index": i,
             "object": "embedding"} for i, text in enumerate(inputs)]
    usage = {"completion_tokens": 0, "prompt_tokens": sum(tokens), "total_tokens": sum(tokens)}
    return {"model": body["model"], "data": data, "object": "list", "usage": usage}


# --- the server ---------------------------------------------------------------------------------


async def answer(fake: FakeUpstream, ex: Exchange, payload: JSON, fault: str | None, content_type: str) -> None:
    """A whole JSON answer, or the fault asked for: `garbage` (HTML), `cut` (half the body, then the drop)."""
    data = msgspec.json.encode(payload)
    if fault == "garbage":
        await ex.garbage()
    elif fault == "cut":
        await fake.stream(ex, content_type, [data[: len(data) // 2]], length=len(data), cut=1)
    else:
        await ex.body(200, data, content_type)


class FakeZhipu(FakeUpstream):
    """The fake Zhipu server; `FakeZhipu("<id>.<secret>")`, used as `with FakeZhipu(key) as fake:`."""

    server_name = "fake-zhipu"
    fault_kinds = FAULT_KINDS | {"cut"}

    def __init__(self, api_key: str = "f4ke1d.s3cr3t") -> None:
        super().__init__(api_key)

    @property
    def api_url(self) -> str:
        return self.base_url + PREFIX

    async def handle(self, request: Request, ex: Exchange) -> None:
        route = request.path.removeprefix(PREFIX)
        if not request.path.startswith(PREFIX) or route not in ("/chat/completions", "/embeddings"):
            raise _not_found(request.path)
        if request.method != "POST":
            raise HTTPError.json(405, {"timestamp": "", "status": 405, "error": "Method Not Allowed",
                                       "path": request.path})
        self._authenticate(request)
        try:
            body = json.loads(request.body)
        except ValueError:
            raise ZhipuError("1210") from None
        if not isinstance(body, dict):
            raise ZhipuError("1210")
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise _invalid("model")
        coded = _CODE_FAULT.fullmatch(name)
        if coded:
            raise ZhipuError(coded.group(1))
        fault = self.fault_for(name)
        if fault is not None and fault.kind == "status":
            raise fault_status(fault.status)
        model = _FAULT_MODEL if fault or name == NETWORK_ERROR else _BY_NAME.get(name)
        wrong_kind = model is not None and model is not _FAULT_MODEL and (route == "/embeddings") != bool(
            model.dimensions)
        if model is None or wrong_kind:
            raise ZhipuError("1211")
        if fault is not None and fault.kind == "stall" and not await self.stall(ex, fault.value):
            return
        if route == "/embeddings":
            await answer(self, ex, embed(body, model), fault.kind if fault else None, JSON_TYPE)
        else:
            await self._chat(ex, body, model, fault.kind if fault else None, fault.value if fault else 0)

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        if not authorization:
            raise ZhipuError("1001")
        token = authorization.removeprefix("Bearer ").strip()
        if self.api_key is None or token == self.api_key:
            return
        if token.count(".") == 2:
            _check_token(token, self.api_key)
            return
        raise ZhipuError("401")

    async def _chat(self, ex: Exchange, body: JSON, model: ZhipuModel, fault: str | None, value: float) -> None:
        plan = plan_chat(body, model)
        if body["model"] == NETWORK_ERROR:
            plan.text, plan.finish_reason = "".join(pieces(plan.text)[:2]), "network_error"
        meta = {"created": int(time.time()), "id": time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:16],
                "model": body["model"]}
        if body.get("stream") is not True:
            await answer(self, ex, chat_response(meta, plan), fault, JSON_TYPE)
            return
        events = [sse(chunk) for chunk in chat_chunks(meta, plan)] + [sse(b"[DONE]")]
        if fault == "garbage":
            events = [events[0], b"data: " + GARBAGE + b"\n\n"]
        await self.stream(ex, EVENT_STREAM, events, cut=int(value) if fault == "cut" else None)
