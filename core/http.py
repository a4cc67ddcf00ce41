"""The pooled HTTP clients of a provider instance.

The hot path, :meth:`Upstream.fetch`, sends through :mod:`core.wire`: a lean keep-alive HTTP/1.1 client on asyncio
protocols and httptools (aiohttp's per-request machinery was a third of a proxied call's CPU; the lean client
carries 25-40% more requests per worker, bench/PROFILE.md). Where a proxy is configured for the upstream, fetch
goes through aiohttp instead, which speaks to proxies.

For anything else providers get ``Upstream.client``, a plain ``httpx.AsyncClient`` whose transport is
:class:`AiohttpTransport`: httpcore's own pool collapses under concurrency (encode/httpx#3215: measured here, one
httpx client sustained 257 req/s at 32 concurrent requests with 3.9 ms of CPU per request, against 1,939 req/s and
0.5 ms through aiohttp's pool). Both paths raise httpx's exception classes, so provider error maps stay as they are.
"""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import NamedTuple, Protocol

import aiohttp
import httpx
import yarl

from . import errors
from .model_types import ProviderContext
from .wire import Pool

__all__ = ["AiohttpTransport", "FetchedResponse", "ResponseBody", "Upstream", "UpstreamResponse", "map_errors"]

_URL_CACHE = 64
_NOT_FORWARDED = frozenset({b"content-length", b"transfer-encoding"})  # aiohttp frames the body itself


def map_errors(context: ProviderContext, *, streaming: bool = False) -> ErrorMap:
    """Translate httpx exceptions raised inside the block (``with map_errors(context): ...``); nothing above a
    provider sees httpx."""
    return ErrorMap(context, streaming)


class ErrorMap:
    """:func:`map_errors`' context manager: a class, not a ``contextlib`` generator, which cost a generator and
    two of its steps on every upstream call (twice per answer)."""

    __slots__ = ("_context", "_streaming")

    def __init__(self, context: ProviderContext, streaming: bool) -> None:
        self._context, self._streaming = context, streaming

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not isinstance(exc, httpx.HTTPError):
            return
        name = self._context.name
        if isinstance(exc, httpx.TimeoutException):
            raise errors.UpstreamTimeoutError(
                f"provider instance '{name}' did not answer within {self._context.timeout_s:g}s") from None
        if isinstance(exc, httpx.ConnectError):
            raise errors.UpstreamConnectionError(f"could not connect to provider instance '{name}'") from None
        if self._streaming:
            raise errors.UpstreamError(f"provider instance '{name}' broke off the stream ({type(exc).__name__})",
                                       code="upstream_stream_interrupted") from None
        raise errors.UpstreamError(
            f"the connection to provider instance '{name}' failed ({type(exc).__name__})") from None


class Upstream:
    """The pooled connection of a provider instance to its upstream.

    ``client`` is the instance's ``httpx.AsyncClient`` for any request. :meth:`fetch` is the hot path: it goes
    straight to aiohttp's session with headers, URL, proxy and timeouts prepared once per instance, and answers
    an :class:`UpstreamResponse` rather than httpx objects (building and reading through ``httpx.Request`` and
    ``httpx.Response`` was an eighth of the CPU of a proxied call). Failures still raise httpx's exceptions.
    """

    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout_s: float,
                 connect_timeout_s: float) -> None:
        self.transport = AiohttpTransport()
        self.client = httpx.AsyncClient(base_url=base_url, headers=dict(headers), transport=self.transport,
                                        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s))
        fixed = httpx.Headers(self.client.headers)
        url = httpx.URL(base_url)
        if url.username and "authorization" not in fixed:  # user:password@ in the base URL is Basic auth
            basic = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
            fixed["authorization"] = f"Basic {basic}"
        # Ask for the body as is: it goes to the client as is, and nothing here has to decompress it.
        fixed["accept-encoding"] = "identity"
        self._headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in fixed.raw
                         if k.lower() not in _NOT_FORWARDED]
        self._head = b"".join(b"%s: %s\r\n" % (k, v) for k, v in fixed.raw if k.lower() not in _NOT_FORWARDED)
        self._connect_s, self._timeout_s = connect_timeout_s, timeout_s
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._routes: dict[str, _Route] = {}
        self._pools: dict[tuple[str, str, int], Pool] = {}

    async def fetch(self, method: str, path: str, content: bytes | None = None,
                    headers: Mapping[str, str] | None = None, timeout_s: float | None = None) -> FetchedResponse:
        """Send a request to ``path`` (relative to the base URL) with the instance's headers (plus ``headers``)
        and timeouts (``timeout_s`` replaces the read timeout: a deployment's own). The answer's headers are
        read; its body is read or streamed, and closed, by the caller.

        Sent by :mod:`core.wire`'s lean client, or through aiohttp when a proxy is configured for the upstream.
        """
        route = self._route(path)
        read_s = self._timeout_s if timeout_s is None else timeout_s
        if route.pool is not None:
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1") if headers else b""
            length = b"content-length: %d\r\n" % len(content) if content is not None else b""
            head = b"%s %s HTTP/1.1\r\nhost: %s\r\n%s%s%s\r\n" % (
                method.encode("ascii"), route.target, route.pool.authority, self._head, extra, length)
            return await route.pool.request(head, content, read_s)
        try:
            response = await self.transport.session().request(
                method, route.url, headers=[*self._headers, *headers.items()] if headers else self._headers,
                data=content, allow_redirects=False, compress=None, proxy=route.proxy, timeout=self._timeout(read_s))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _as_httpx(exc) from exc
        except ValueError as exc:  # a request aiohttp refuses to send
            raise httpx.LocalProtocolError(str(exc)) from exc
        return UpstreamResponse(response)

    def _route(self, path: str) -> _Route:
        route = self._routes.get(path)
        if route is None:
            url = self.client.base_url.join(path)
            proxy = self.transport.proxy(url)
            pool = None
            if proxy is None:
                port = url.port or (443 if url.scheme == "https" else 80)
                key = (url.scheme, url.host, port)
                pool = self._pools.get(key)
                if pool is None:
                    pool = self._pools[key] = Pool(url.scheme, url.host, port, connect_timeout_s=self._connect_s)
            route = _Route(self.transport.target(url), proxy, pool, url.raw_path)
            if len(self._routes) < _URL_CACHE:  # the hot paths are a handful; others are joined each time
                self._routes[path] = route
        return route

    def _timeout(self, read_s: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(read_s)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(connect=self._connect_s, sock_connect=self._connect_s, sock_read=read_s)
            if len(self._timeouts) < _URL_CACHE:
                self._timeouts[read_s] = timeout
        return timeout

    async def aclose(self) -> None:
        """Close the pools."""
        for pool in self._pools.values():
            pool.close()
        await self.client.aclose()


class _Route(NamedTuple):
    """Where a path goes: the URL, the proxy (then aiohttp sends it), else the pool and the request target."""

    url: yarl.URL
    proxy: str | None
    pool: Pool | None
    target: bytes


class ResponseBody(Protocol):
    """What streams and readers need of an upstream answer: :class:`UpstreamResponse`, or an ``httpx.Response``."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> httpx.Headers: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    async def aclose(self) -> None: ...


class FetchedResponse(ResponseBody, Protocol):
    """:meth:`Upstream.fetch`'s answer: a :class:`~core.wire.WireResponse` or an :class:`UpstreamResponse`."""

    @property
    def content_type(self) -> str: ...


class UpstreamResponse:
    """An upstream answer (through aiohttp): its status and headers, its body read whole or as it arrives.

    The few ``httpx.Response`` names providers use (``status_code``, ``headers``, ``aread``, ``aiter_bytes``,
    ``aiter_raw``, ``aclose``), over aiohttp's response; ``headers`` become ``httpx.Headers`` only when asked for.
    Closing before the end drops the connection (the upstream sees it go); after the end it returns to the pool.
    """

    __slots__ = ("_headers", "_response", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        if self._headers is None:
            self._headers = httpx.Headers(list(self._response.raw_headers))
        return self._headers

    @property
    def content_type(self) -> str:
        """The ``content-type`` header, or ``""``."""
        return self._response.headers.get("content-type", "")

    async def aread(self) -> bytes:
        """The whole body."""
        try:
            return await self._response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _as_httpx(exc) from exc

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body in the pieces it arrives in; what arrived before a failure is still handed over."""
        return _pieces(self._response.content)

    aiter_raw = aiter_bytes
    """The same: bodies are asked for and passed on without content encoding."""

    async def aclose(self) -> None:
        """Release the connection to the pool when the body was read to the end, else drop it."""
        _release(self._response)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through an aiohttp session (HTTP/1.1 keep-alive, no connection limit).

    Responses are not decompressed here (httpx decodes ``Content-Encoding`` itself) and cookies are not kept.
    """

    def __init__(self, keepalive_s: float = 30.0) -> None:
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._closed = False
        self._targets: dict[str, yarl.URL] = {}

    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, as aiohttp requires.
        if self._closed:
            raise httpx.LocalProtocolError("this upstream client is closed")  # a retired runtime's stray caller
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_s, ttl_dns_cache=300)
            # trust_env=False: aiohttp would read ~/.netrc in a thread on every request; proxies are looked up
            # once per host instead (see proxy).
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() not in _NOT_FORWARDED]
        url = self.target(request.url)
        try:
            response = await self.session().request(
                request.method, url, headers=headers, data=await request.aread() or None,
                allow_redirects=False, compress=None, proxy=self.proxy(request.url),
                timeout=aiohttp.ClientTimeout(connect=timeout.get("connect"), sock_connect=timeout.get("connect"),
                                              sock_read=timeout.get("read")))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _as_httpx(exc, request) from exc
        except ValueError as exc:  # a request aiohttp refuses to send
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        return httpx.Response(response.status, headers=list(response.raw_headers), stream=_Body(response, request),
                              request=request, extensions={"http_version": b"HTTP/1.1"})

    def target(self, url: httpx.URL) -> yarl.URL:
        """The URL aiohttp sends to, parsed once per distinct URL (a handful per upstream); any user:password is
        dropped, since the caller sends it as a header already."""
        key = str(url)
        target = self._targets.get(key)
        if target is None:
            target = yarl.URL(str(url.copy_with(userinfo=b"")) if url.userinfo else key, encoded=True)
            if len(self._targets) < _URL_CACHE:
                self._targets[key] = target
        return target

    def proxy(self, url: httpx.URL) -> str | None:
        """``HTTPS_PROXY`` / ``HTTP_PROXY`` unless ``NO_PROXY`` exempts the host, as httpx does by default."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxy = urllib.request.getproxies().get(url.scheme)
            self._proxies[key] = None if proxy is None or urllib.request.proxy_bypass(url.host) else proxy
        return self._proxies[key]

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


class _Body(httpx.AsyncByteStream):
    """A response body read as it arrives; closing it early drops the connection (the upstream sees it go)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response, self._request = response, request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _pieces(self._response.content, self._request)

    async def aclose(self) -> None:
        _release(self._response)


def _release(response: aiohttp.ClientResponse) -> None:
    if response.content.at_eof():
        response.release()  # back to the pool
    else:
        response.close()


async def _pieces(reader: aiohttp.StreamReader, request: httpx.Request | None = None) -> AsyncIterator[bytes]:
    try:
        async for chunk in reader.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        leftover = _unread(reader)
        if leftover:
            yield leftover
        raise _as_httpx(exc, request) from exc


def _unread(reader: aiohttp.StreamReader) -> bytes:
    """What arrived just before the connection broke: aiohttp raises the error before handing it over.

    Reads aiohttp's buffer directly (there is no public way); a cut stream must not lose events that reached us
    (``tests/server/test_streaming.py`` fails if a new aiohttp changes this).
    """
    buffer = getattr(reader, "_buffer", None)
    if not buffer:
        return b""
    offset = getattr(reader, "_buffer_offset", 0)
    return b"".join(bytes(part)[offset:] if i == 0 else bytes(part) for i, part in enumerate(buffer))


def _as_httpx(exc: BaseException, request: httpx.Request | None = None) -> httpx.TransportError:
    message = str(exc) or type(exc).__name__
    match exc:
        case aiohttp.ConnectionTimeoutError():
            return httpx.ConnectTimeout(message, request=request)
        case aiohttp.ClientConnectorError():
            return httpx.ConnectError(message, request=request)
        case TimeoutError():
            return httpx.ReadTimeout(message, request=request)
        case aiohttp.ServerDisconnectedError() | aiohttp.ClientPayloadError():
            return httpx.RemoteProtocolError(message, request=request)
        case _:
            return httpx.ReadError(message, request=request)
