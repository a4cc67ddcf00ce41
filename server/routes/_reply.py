"""Calling a provider on behalf of a request, and the :class:`Reply` it gives: sent as is by the model-call
routes (:mod:`server.calls`), turned into a Litestar response by the others (:func:`to_response`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from functools import partial
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import quote

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.response import Stream

from core.errors import ClientClosedRequest, InvalidRequestError, UpstreamTimeoutError
from core.model_types import AudioStream, EventStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.usage import Usage
from core.parameters import apply_rules, pin_params
from core.pricing import cost, format_cost
from core.reliability import attempt
from core.router import Deployment
from core.runtime import Runtime
from core.schema import ModelType
from core.sse import error_event
from core.timers import Timer, wheel

from ..auth import check_model

__all__ = [
    "ATTEMPTS_HEADER",
    "COST_HEADER",
    "CURRENCY_HEADER",
    "DEPLOYMENT_HEADER",
    "SSE_HEADERS",
    "STREAM_STATE",
    "USAGE_STATE",
    "Departure",
    "Exchange",
    "Reply",
    "Req",
    "Watch",
    "answer",
    "call",
    "model_type_param",
    "reply",
    "runtime",
    "serve",
    "to_response",
    "with_rules",
]

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
Req = Request[Any, Any, State]
T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
Result = JSONReply | EventStream | AudioStream


class Exchange:
    """What a model call needs of its HTTP request: the ASGI scope (its ``state`` notes the key, model and usage),
    ``receive`` and the connection's :class:`Departure` if it has one (to notice a client that leaves), and the
    app's state (the runtime of the current profile)."""

    __slots__ = ("app_state", "departure", "receive", "scope")

    def __init__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
                 app_state: State, departure: Departure | None = None) -> None:
        self.scope, self.receive, self.app_state, self.departure = scope, receive, app_state, departure

    @classmethod
    def of(cls, request: Req) -> Exchange:
        """The exchange of a Litestar request."""
        return cls(cast("MutableMapping[str, Any]", request.scope), request.receive, request.app.state)


class Reply:
    """An answer before any framework sees it: a complete ``body``, or a ``stream`` of pieces written as they come,
    then closed with ``close`` (also when the client left half-way)."""

    __slots__ = ("body", "close", "headers", "media_type", "stream")

    def __init__(self, media_type: str, headers: dict[str, str], body: bytes = b"",
                 stream: AsyncIterator[bytes] | None = None,
                 close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.media_type, self.headers, self.body, self.stream, self.close = media_type, headers, body, stream, close


def to_response(answer: Reply) -> Response[bytes] | Stream:
    """``answer`` as a Litestar response."""
    if answer.stream is None:
        return Response(answer.body, media_type=answer.media_type, headers=answer.headers)
    background = BackgroundTask(answer.close) if answer.close is not None else None
    return Stream(answer.stream, media_type=answer.media_type, headers=answer.headers, background=background)


def model_type_param(value: str, param: str = "model_type") -> ModelType:
    """A model type from a path, query or body: Dify's names or Chatchat's aliases; 400 otherwise."""
    try:
        return ModelType.parse(value)
    except ValueError:
        raise InvalidRequestError(f"'{value}' is not a model type: use one of {', '.join(ModelType)}",
                                  param=param, code="invalid_value") from None


def runtime(request: Req | Exchange) -> Runtime:
    """The runtime of the current profile (a reload replaces it)."""
    result: Runtime = request.app_state["runtime"] if isinstance(request, Exchange) else request.app.state.runtime
    return result


def with_rules(target: ModelTarget, body: S, raw: RawBody) -> tuple[S, RawBody]:
    """The request after the deployment's parameter overrides and the model's parameter rules (see
    :mod:`core.parameters`), typed and raw."""
    original = raw
    if target.params:
        raw = pin_params(raw, target.params)
    if target.schema is not None and target.schema.parameter_rules:
        raw = apply_rules(target.schema.parameter_rules, raw)
    return (body, raw) if raw is original else (msgspec.convert(raw, type(body)), raw)


async def serve(request: Exchange, provider: str | None, model: str, model_type: ModelType, body: S, raw: RawBody,
                invoke: Callable[[Provider, ModelTarget, S, RawBody], Awaitable[Result]]) -> Reply:
    """Resolve ``model`` (anywhere for ``/v1``, among the models of ``provider`` for ``/{provider}/v1``), then
    call each deployment tried with the request after its overrides and parameter rules."""
    check_model(request.scope, provider, model)
    rt = runtime(request)

    async def one(deployment: Deployment) -> Result:
        checked, checked_raw = with_rules(deployment.target, body, raw)
        return await invoke(rt.provider(deployment), deployment.target, checked, checked_raw)

    if provider is None:
        deployments = rt.router.resolve(model, model_type)
    else:
        deployments = rt.router.resolve_in(provider, model, model_type)
    context = rt.router.context_fallbacks(model) if model_type is ModelType.LLM else None
    return await answer(request, rt, deployments, one, context)


WATCH_AFTER_S = 0.05
"""Over plain ASGI, answers faster than this never pay for a disconnect watcher (a task per request: 9% of a fast
call's CPU); it starts up to :data:`core.timers.RESOLUTION_S` later."""


class Departure(Protocol):
    """A client connection that says when its client leaves (uvicorn's, under :mod:`server.protocol`)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop serving the connection (``asyncio.current_task(loop)``: Python 3.11's ``current_task()``
        makes a ``getpid`` system call to find the running loop)."""

    def on_leave(self, callback: Callable[[], object]) -> bool:
        """Have ``callback`` called at once if the client leaves; ``False``, and nothing set, when it has left
        already."""

    def forget(self, callback: Callable[[], object]) -> None:
        """No longer call ``callback`` (if it is still the one set: the next request's is not touched)."""


class Watch:
    """Cancels the running task if the client leaves before :meth:`stop`.

    With a :class:`Departure` nothing runs until the client leaves. Over plain ASGI a task waits for
    ``http.disconnect`` from ``receive``, started after ``delay_s``; the request body must have been read, so
    that what ``receive`` yields next can only be the disconnect.
    """

    __slots__ = ("_departure", "_receive", "_stopped", "_task", "_timer", "_watcher", "left")

    def __init__(self, departure: Departure | None, receive: Callable[[], Awaitable[Any]],
                 delay_s: float = 0.0) -> None:
        task = asyncio.current_task(None if departure is None else departure.loop)
        assert task is not None
        self._task, self._departure, self._receive = task, departure, receive
        self.left = self._stopped = False
        """Whether the client left (while watched, or before)."""
        self._timer: Timer | None = None
        self._watcher: asyncio.Future[None] | None = None
        if departure is not None:
            self.left = not departure.on_leave(self._leave)
        elif delay_s > 0:
            self._timer = wheel(task.get_loop()).call_later(delay_s, self._start)
        else:
            self._start()

    def cancelled_by_leaving(self) -> bool:
        """In an ``except CancelledError``: whether this watch alone cancelled the task (not a shutdown, not a
        timeout), and so the cancellation ends here."""
        return self.left and self._task.uncancel() == 0

    def stop(self) -> None:
        """No more watching: what follows (the last message, settling the usage) must not be cancelled."""
        self._stopped = True
        if self._departure is not None:
            self._departure.forget(self._leave)
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.remove_done_callback(self._on_disconnect)
            self._watcher.cancel()

    def _start(self) -> None:
        self._watcher = asyncio.ensure_future(_disconnected(self._receive))
        self._watcher.add_done_callback(self._on_disconnect)

    def _on_disconnect(self, watcher: asyncio.Future[None]) -> None:
        # A callback already scheduled when the watch stopped must not cancel the task that now sends the answer.
        if not self._stopped and not watcher.cancelled() and watcher.exception() is None:
            self._leave()

    def _leave(self) -> None:
        self.left = True
        self._task.cancel()


async def _disconnected(receive: Callable[[], Awaitable[Any]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def call(request: Exchange, upstream_call: Coroutine[Any, Any, T]) -> T:
    """Await ``upstream_call``, cancelling it (and so the upstream request) if the client leaves first (see
    :class:`Watch`: over plain ASGI, once the call has taken :data:`WATCH_AFTER_S`)."""
    watch = Watch(request.departure, request.receive, WATCH_AFTER_S)
    try:
        if watch.left:
            upstream_call.close()
            raise ClientClosedRequest("the client closed the connection before the answer was ready")
        return await upstream_call
    except asyncio.CancelledError:
        if watch.cancelled_by_leaving():
            raise ClientClosedRequest("the client closed the connection before the answer was ready") from None
        raise
    finally:
        watch.stop()


COST_HEADER = "x-model-runtime-cost"
CURRENCY_HEADER = "x-model-runtime-cost-currency"


USAGE_STATE = "model_runtime.usage"
"""``scope["state"]`` entry: the usage of a complete answer, as the provider read it (``None`` when it had none)."""
STREAM_STATE = "model_runtime.stream"
"""``scope["state"]`` entry: the event stream of a streamed answer; its ``usage`` is known once it ended."""
DEPLOYMENT_HEADER = "x-model-runtime-deployment"
ATTEMPTS_HEADER = "x-model-runtime-attempts"


async def answer(request: Exchange, rt: Runtime, deployments: list[Deployment],
                 make: Callable[[Deployment], Awaitable[Result]],
                 context_fallbacks: list[Deployment] | None = None) -> Reply:
    """Try ``deployments`` (retries, fallbacks, cooldowns: :mod:`core.reliability`) and reply with the first
    answer, saying which deployment gave it and after how many attempts.

    ``rt`` counts the call as in flight until its answer is out (a stream: until it ends), so a runtime replaced by
    a profile reload closes its connections only once nothing uses them.
    """
    rt.in_flight += 1
    try:
        outcome = await call(request, attempt(deployments, make, rt.loaded.profile.router, rt.cooldowns,
                                              context_fallbacks=context_fallbacks, stats=rt.stats))
    except BaseException:
        rt.in_flight -= 1
        raise
    headers = {DEPLOYMENT_HEADER: _header_value(outcome.deployment.id), ATTEMPTS_HEADER: str(outcome.attempts)}
    if isinstance(outcome.value, JSONReply):
        rt.in_flight -= 1
        request.scope["state"][USAGE_STATE] = outcome.value.usage  # metering reads it: no second decode
        return reply(outcome.value, outcome.deployment.target, headers)
    limit = rt.loaded.profile.router.stream_timeout_s
    value = outcome.value
    if not isinstance(value, AudioStream):
        request.scope["state"][STREAM_STATE] = value  # metering reads its usage once it ended
    stream = value if limit is None or isinstance(value, AudioStream) else _Bounded(value, limit)
    return reply(stream, outcome.deployment.target, headers, done=_Release(rt))


_quoted: dict[str, str] = {}


def _header_value(deployment_id: str) -> str:
    """The id holds a model name the client chose: quoted, it is a valid header whatever its characters. Quoted
    once per id (a bounded cache: the names are the clients')."""
    found = _quoted.get(deployment_id)
    if found is None:
        if len(_quoted) >= 4096:
            _quoted.clear()
        found = _quoted[deployment_id] = quote(deployment_id, safe="/:@.-_~+")
    return found


def reply(result: Result, target: ModelTarget, headers: dict[str, str] | None = None,
          done: Callable[[], None] | None = None) -> Reply:
    """A complete body as is, or a stream written to the client piece by piece as it arrives: events, or audio.

    A body carries its cost when the model has a price, and so does audio (priced by input characters, known
    before the first byte); an event stream's headers go before its usage is known, so it carries none.
    The stream is closed after the response either way, so a client that leaves mid-stream frees the upstream
    connection at once rather than when the abandoned iterator is collected.
    """
    headers = dict(headers or {})
    if isinstance(result, JSONReply | AudioStream) and result.usage is not None:
        pricing = target.schema.pricing if target.schema else None
        if pricing is not None:
            headers[COST_HEADER] = format_cost(cost(pricing, result.usage))
            headers[CURRENCY_HEADER] = pricing.currency
    if isinstance(result, JSONReply):
        return Reply(result.media_type, headers, result.body)
    if isinstance(result, AudioStream):
        return Reply(result.media_type, headers, stream=_events(result, done), close=partial(_close, result, done))
    return Reply("text/event-stream", {**SSE_HEADERS, **headers}, stream=_events(result, done),
                 close=partial(_close, result, done))


class _Bounded:
    """An event stream cut short, with an error event, once it has run ``limit_s`` (``router.stream_timeout_s``)."""

    def __init__(self, stream: EventStream, limit_s: float) -> None:
        self._stream, self._limit_s = stream, limit_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        deadline = asyncio.get_running_loop().time() + self._limit_s
        events = self._stream.__aiter__()
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                await self._stream.aclose()
                yield error_event(UpstreamTimeoutError(f"the stream ran longer than {self._limit_s:g}s",
                                                       code="stream_timeout"))
                return
            yield event

    async def aclose(self) -> None:
        await self._stream.aclose()

    @property
    def usage(self) -> Usage | None:
        return self._stream.usage


class _Release:
    """Ends a stream's in-flight count exactly once, whichever of its two ends (iteration, background) comes."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime: Runtime | None = runtime

    def __call__(self) -> None:
        if self._runtime is not None:
            self._runtime.in_flight -= 1
            self._runtime = None


async def _events(stream: EventStream | AudioStream, done: Callable[[], None] | None) -> AsyncIterator[bytes]:
    try:
        async for event in stream:
            yield event
    finally:
        if done is not None:
            done()


async def _close(stream: EventStream | AudioStream, done: Callable[[], None] | None) -> None:
    try:
        await stream.aclose()
    finally:
        if done is not None:
            done()
