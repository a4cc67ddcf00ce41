"""What keys, limits, usage and metrics add to a request: the metering middleware timed around a stub handler.

The stub answers at once with a chat completion (usage and cost headers included), so everything measured is the
middleware's own work: identifying the key (SHA-256 + constant-time compare), path scope, admission, the
``x-ratelimit-*`` headers, finding the usage in the body, settling it, metrics and the (no-op) span. Runs:

- ``handler only``: the stub without the middleware (the floor);
- ``open gateway``: no key configured (metrics and usage still recorded);
- ``plain key``: a ``server.api_keys`` key (no limits);
- ``rpm+tpm key``, in this process and in a local ``redis-server``: admission before the call (one script), the
  settlement after the last byte;
- ``rpm+tpm+max_parallel key``: the settlement (which frees the slot) goes before the last byte, so with Redis the
  client waits for both scripts.

    .venv/bin/python bench/limits.py [--requests 20000]

Not run by the tests; the figures go in the issue notes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402
from litestar.datastructures import State  # noqa: E402

from core.profile import load_profile  # noqa: E402
from core.redis_state import RedisState  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.server_config import KeyConfig, StateConfig  # noqa: E402
from core.state import MemoryState  # noqa: E402
from core.state import State as Counters  # noqa: E402
from server.auth import MODEL_STATE, GatewayKeys  # noqa: E402
from server.metering import Meter, metering  # noqa: E402
from server.metrics import Metrics  # noqa: E402
from server.tracing import Tracing  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

KEY = "mr-bench-key-0123456789abcdef"
PROFILE = """
providers:
  - {name: up, provider: openai_compatible, credentials: {base_url: "http://127.0.0.1:9/v1"}}
"""
BODY = (b'{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":"' + b"lorem ipsum " * 80 + b'"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":150,"total_tokens":162}}')
HEADERS = [(b"content-type", b"application/json"), (b"x-model-runtime-deployment", b"up/bench-model"),
           (b"x-model-runtime-cost", b"0.0000918")]
Handler = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _Route:
    opt: dict[str, Any] = {}


class _App:
    def __init__(self, state: State) -> None:
        self.state = state


async def stub(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["state"][MODEL_STATE] = "up/bench-model"
    await send({"type": "http.response.start", "status": 200, "headers": list(HEADERS)})
    await send({"type": "http.response.body", "body": BODY, "more_body": False})


async def _receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


class _Client:
    """The ASGI ``send`` side: when the last byte went out."""

    last_byte = 0.0

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.last_byte = time.perf_counter()


def build(keys: GatewayKeys, counters: Counters, runtime: Runtime) -> tuple[State, Handler]:
    state = State({"runtime": runtime, "gateway_keys": keys})
    state.metrics = Metrics(lambda: runtime)
    state.meter = Meter(counters, state.metrics, Tracing())
    return state, metering(stub)  # type: ignore[arg-type, return-value]


async def timed(app: Handler, state: State, authorization: bytes | None,
                requests: int) -> tuple[list[float], list[float]]:
    """Per request: seconds to the last byte (what the client waits) and to the end of the call (the work)."""
    headers = [(b"content-type", b"application/json")]
    if authorization:
        headers.append((b"authorization", b"Bearer " + authorization))
    holder = _App(state)
    client = _Client()
    to_client, whole = [], []
    for _ in range(requests):
        scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
                 "path_template": "/v1/chat/completions", "headers": headers, "state": {}, "route_handler": _Route,
                 "app": holder}
        started = time.perf_counter()
        await app(scope, _receive, client.send)
        whole.append(time.perf_counter() - started)
        to_client.append(client.last_byte - started)
    return to_client, whole


def summary(name: str, to_client: list[float], whole: list[float], floor: float) -> str:
    to_client = sorted(to_client)
    p50 = statistics.median(to_client) * 1e6
    p99 = to_client[int(len(to_client) * 0.99)] * 1e6
    return (f"| {name} | {p50:.1f} | {p99:.1f} | {p50 - floor:+.1f} | {statistics.median(whole) * 1e6:.1f} "
            f"| {statistics.fmean(whole) * 1e6:.1f} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.yaml"
        path.write_text(PROFILE)
        runtime = Runtime(load_profile(path, {}))
    limited = KeyConfig(name="team", key=KEY, rpm=10**9, tpm=10**12)
    parallel = KeyConfig(name="batch", key=KEY, rpm=10**9, tpm=10**12, max_parallel=1000)
    with RedisServer() as redis:
        redis_state = RedisState(StateConfig(url=redis.url))
        runs: list[tuple[str, GatewayKeys, Counters, bytes | None]] = [
            ("open gateway", GatewayKeys([]), MemoryState(), None),
            ("plain key", GatewayKeys([KEY]), MemoryState(), KEY.encode()),
            ("rpm+tpm key, memory", GatewayKeys([], [limited]), MemoryState(), KEY.encode()),
            ("rpm+tpm+max_parallel key, memory", GatewayKeys([], [parallel]), MemoryState(), KEY.encode()),
            ("rpm+tpm key, redis", GatewayKeys([], [limited]), redis_state, KEY.encode()),
            ("rpm+tpm+max_parallel key, redis", GatewayKeys([], [parallel]), redis_state, KEY.encode()),
        ]
        results: dict[str, tuple[list[float], list[float]]] = {"handler only": ([], [])}
        results.update({name: ([], []) for name, *_ in runs})
        for _ in range(5):  # interleaved rounds, so drift hits every run alike
            to_client, whole = await timed(stub, State({}), None, args.requests // 5)  # type: ignore[arg-type]
            results["handler only"][0].extend(to_client)
            results["handler only"][1].extend(whole)
            for name, keys, counters, key in runs:
                state, app = build(keys, counters, runtime)
                to_client, whole = await timed(app, state, key, args.requests // 5)
                results[name][0].extend(to_client)
                results[name][1].extend(whole)
        await redis_state.aclose()
    floor = statistics.median(results["handler only"][0]) * 1e6
    print(f"{args.requests} requests per run, Python {sys.version.split()[0]} on uvloop, µs per request\n")
    print("| run | last byte p50 | last byte p99 | added (p50) | whole call p50 | whole call mean |")
    print("|---|---|---|---|---|---|")
    for name, (to_client, whole) in results.items():
        print(summary(name, to_client, whole, floor))


if __name__ == "__main__":
    uvloop.run(main())  # the gateway's event loop
