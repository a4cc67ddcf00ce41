"""The pooled HTTP client of a provider instance: ``httpx.AsyncClient`` over aiohttp's connection pool.

Providers speak httpx (requests, responses, streaming, its exception classes), but httpcore's pool collapses
under concurrency (encode/httpx#3215): measured here, one httpx client sustained 257 req/s at 32 concurrent
requests with 3.9 ms of CPU per request, against 1,939 req/s and 0.5 ms through aiohttp's pool. So the client
every provider gets is a plain ``httpx.AsyncClient`` whose transport is :class:`AiohttpTransport`: a small
adapter that sends through one ``aiohttp.ClientSession``, streams bodies chunk by chunk, and raises httpx's own
exceptions, so provider error maps stay as they are.
"""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import httpx
import yarl

from . import errors
from .model_types import ProviderContext

__all__ = ["AiohttpTransport", "Upstream", "map_errors"]

_URL_CACHE = 64
_NOT_FORWARDED = frozenset({b"content-length", b"transfer-encoding"})  # aiohttp frames the body itself


@contextmanager
def map_errors(context: ProviderContext, *, streaming: bool = False) -> Iterator[None]:
    """Translate httpx exceptions raised inside the block; nothing above a provider sees httpx."""
    try:
        yield
    except httpx.TimeoutException:
        raise errors.UpstreamTimeoutError(
            f"provider instance '{context.name}' did not answer within {context.timeout_s:g}s") from None
    except httpx.ConnectError:
        raise errors.UpstreamConnectionError(f"could not connect to provider instance '{context.name}'") from None
    except httpx.HTTPError as exc:
        if streaming:
            raise errors.UpstreamError(f"provider instance '{context.name}' broke off the stream "
                                       f"({type(exc).__name__})", code="upstream_stream_interrupted") from None
        raise errors.UpstreamError(
            f"the connection to provider instance '{context.name}' failed ({type(exc).__name__})") from None


class Upstream:
    """The pooled connection of a provider instance to its upstream.

    ``client`` is the instance's ``httpx.AsyncClient`` for any request; :meth:`request` and :meth:`send` are the
    hot path, which hands a prepared request straight to the transport and skips what the client adds per call
    (base-URL merging, cookie jar, redirect and auth handling: a quarter of the CPU of a proxied call).
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
        self._headers = fixed.raw
        self._timeout = {"connect": connect_timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
        self._urls: dict[str, httpx.URL] = {}

    def request(self, method: str, path: str, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout_s: float | None = None) -> httpx.Request:
        """A request to ``path`` (relative to the base URL) with the instance's headers and timeouts (``timeout_s``
        replaces the read timeout: a deployment's own)."""
        url = self._urls.get(path)
        if url is None:
            url = self.client.base_url.join(path)
            if len(self._urls) < _URL_CACHE:  # the hot paths are a handful; others are joined each time
                self._urls[path] = url
        extra = [(k.encode(), v.encode()) for k, v in headers.items()] if headers else []
        timeout = self._timeout if timeout_s is None else {**self._timeout, "read": timeout_s, "write": timeout_s,
                                                             "pool": timeout_s}
        return httpx.Request(method, url, headers=self._headers + extra, content=content,
                             extensions={"timeout": timeout})

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send; the response body is read (or closed) by the caller."""
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pool."""
        await self.client.aclose()


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

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, as aiohttp requires.
        if self._closed:
            raise httpx.LocalProtocolError("this upstream client is closed")  # a retired runtime's stray caller
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_s, ttl_dns_cache=300)
            # trust_env=False: aiohttp would read ~/.netrc in a thread on every request; proxies are looked up
            # once per host instead (see _proxy).
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() not in _NOT_FORWARDED]
        url = self._target(request.url)
        try:
            response = await self._open().request(
                request.method, url, headers=headers, data=await request.aread() or None,
                allow_redirects=False, compress=None, proxy=self._proxy(request.url),
                timeout=aiohttp.ClientTimeout(connect=timeout.get("connect"), sock_connect=timeout.get("connect"),
                                              sock_read=timeout.get("read")))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _as_httpx(exc, request) from exc
        except ValueError as exc:  # a request aiohttp refuses to send
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        return httpx.Response(response.status, headers=list(response.raw_headers), stream=_Body(response, request),
                              request=request, extensions={"http_version": b"HTTP/1.1"})

    def _target(self, url: httpx.URL) -> yarl.URL:
        """The URL aiohttp sends to, parsed once per distinct URL (a handful per upstream); any user:password is
        dropped, since the caller sends it as a header already."""
        key = str(url)
        target = self._targets.get(key)
        if target is None:
            target = yarl.URL(str(url.copy_with(userinfo=b"")) if url.userinfo else key, encoded=True)
            if len(self._targets) < _URL_CACHE:
                self._targets[key] = target
        return target

    def _proxy(self, url: httpx.URL) -> str | None:
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

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader = self._response.content
        try:
            async for chunk in reader.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            leftover = _unread(reader)
            if leftover:
                yield leftover
            raise _as_httpx(exc, self._request) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # back to the pool
        else:
            self._response.close()


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


def _as_httpx(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
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
