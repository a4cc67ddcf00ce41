"""``make bench-inproc``: the gateway's own CPU per request, without uvicorn and without client sockets.

Builds the app from a one-instance profile (the fake upstream, as ``make bench`` does), runs its lifespan, then
drives it as an ASGI callable from ``--concurrency`` coroutines for ``--duration`` seconds: a chat request each,
the body handed over at once, the response read from ``send``. It prints the CPU time (user and system) and the
wall time per request. ``--stub fetch`` answers every upstream call with the fake upstream's canned body and no
I/O, so that the difference between the two runs is what the upstream round trip costs inside the gateway.
Each result is the best of ``--runs`` runs (the machine's noise only ever adds).

    python bench/inproc.py [--duration 2] [--runs 3] [--concurrency 32] [--stub fetch] [--route responses]

``--route responses`` asks the same through ``/v1/responses``: the difference from the chat route is what the
Responses translation costs (the request to chat, the chat answer decoded and written as a response object).

Measures the tree it runs from: ``PYTHONPATH=/path/to/other/checkout python bench/inproc.py`` for another.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # after PYTHONPATH: another checkout given there wins

import uvloop  # noqa: E402
from upstream import _CHAT  # noqa: E402

ROUTES = {
    "chat": ("/v1/chat/completions", {"model": "bench/bench-model",
                                      "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}),
    "responses": ("/v1/responses", {"model": "bench/bench-model", "input": "Say hello in one short sentence."}),
}
"""The same question through each route: its path and body."""
App = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stub_fetch() -> None:
    import core.http

    class Canned:
        status_code = 200
        content_type = "application/json"
        raw_headers = [(b"content-type", b"application/json")]

        async def aread(self) -> bytes:
            return _CHAT

        async def aclose(self) -> None:
            return None

    async def fetch(self: object, *args: object, **kwargs: object) -> Canned:
        return Canned()

    core.http.Upstream.fetch = fetch  # type: ignore[assignment,method-assign]


async def _request(app: App, path: str, body: bytes) -> int:
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"authorization", b"Bearer sk-bench-key"), (b"content-length", b"%d" % len(body))]
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST",
        "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
        "state": {}}
    given = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.get_running_loop().create_future()  # never: the client stays
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _measure(app: App, concurrency: int, duration: float, route: str = "chat") -> dict[str, float]:
    done = 0
    path, question = ROUTES[route]
    body = json.dumps(question).encode()

    async def client(until: float) -> None:
        nonlocal done
        while time.perf_counter() < until:
            status = await _request(app, path, body)
            if status != 200:
                raise RuntimeError(f"the gateway answered {status}")
            done += 1

    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(client(started + duration) for _ in range(concurrency)))
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {"requests": done, "user_us": 1e6 * (after.ru_utime - before.ru_utime) / done,
            "sys_us": 1e6 * (after.ru_stime - before.ru_stime) / done, "wall_us": 1e6 * wall / done}


async def _main(args: argparse.Namespace, profile: Path) -> None:
    from core.profile import load_profile
    from server.app import create_app

    logging.getLogger("model_runtime.access").setLevel(logging.WARNING)
    app: App = create_app(load_profile(str(profile)))  # type: ignore[assignment]
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await to_app.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                         to_app.get, from_app.put))
    started = await from_app.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    gc.freeze()  # as server/workers.py does once uvicorn's startup is over
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    for _ in range(100):  # the fake upstream is starting
        try:
            await _measure(app, 4, 0.3)
            break
        except Exception:
            await asyncio.sleep(0.1)
    runs = [await _measure(app, args.concurrency, args.duration, args.route) for _ in range(args.runs)]
    best = min(runs, key=lambda run: run["user_us"] + run["sys_us"])
    print(f"{args.route}: {len(runs)} runs of {args.duration:g} s, {args.concurrency} concurrent"
          f"{', upstream call stubbed' if args.stub else ''}: best {best['user_us'] + best['sys_us']:.1f} µs CPU "
          f"per request (user {best['user_us']:.1f}, system {best['sys_us']:.1f}), {best['wall_us']:.1f} µs wall, "
          f"{1e6 / best['wall_us']:,.0f} req/s")
    await to_app.put({"type": "lifespan.shutdown"})
    await lifespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stub", choices=["fetch"])
    parser.add_argument("--route", choices=list(ROUTES), default="chat")
    args = parser.parse_args()
    port = _free_port()
    upstream = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), "--port", str(port)])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            profile = Path(tmp) / "profile.yaml"
            profile.write_text('server: {api_keys: ["sk-bench-key"]}\nproviders:\n  - name: bench\n'
                               f'    provider: openai_compatible\n    credentials: {{base_url: '
                               f'"http://127.0.0.1:{port}/v1", api_key: sk-upstream}}\n')
            if args.stub:
                _stub_fetch()
            uvloop.run(_main(args, profile))
    finally:
        upstream.kill()
        upstream.wait()


if __name__ == "__main__":
    main()
