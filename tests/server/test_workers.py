"""Several workers: each listens on its own SO_REUSEPORT socket; the supervisor reloads, replaces and stops them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway import ROOT, GatewayProcess, eventually, free_port

PROFILE = (ROOT / "profiles" / "default.yaml").read_text()


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (``/proc/net/tcp``: state 0A is LISTEN)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def workers_of(pid: int) -> list[int]:
    """The supervisor's child processes: its workers."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, workers=2) as gw:
        assert eventually(lambda: listeners(gw.port) == 2, 15.0)
        yield gw


def test_each_worker_has_its_own_listening_socket(gateway: GatewayProcess) -> None:
    assert len(workers_of(gateway.pid)) == 2
    assert listeners(gateway.port) == 2
    # Many fresh connections all get answered, whichever socket the kernel hashes them to.
    for _ in range(40):
        with httpx.Client() as client:
            assert client.get(f"{gateway.url}/health/live").status_code == 200


def test_sighup_reloads_every_worker(gateway: GatewayProcess) -> None:
    before = gateway.log().count("reloaded")
    gateway.signal(signal.SIGHUP)
    assert eventually(lambda: gateway.log().count("reloaded") == before + 2)
    assert httpx.get(f"{gateway.url}/health/ready").status_code == 200


def test_a_dead_worker_is_replaced(gateway: GatewayProcess) -> None:
    victim = workers_of(gateway.pid)[0]
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: victim not in workers_of(gateway.pid) and len(workers_of(gateway.pid)) == 2)
    assert eventually(lambda: listeners(gateway.port) == 2)
    assert f"Worker [{victim}] died" in gateway.log()
    for _ in range(20):
        with httpx.Client() as client:
            assert client.get(f"{gateway.url}/health/ready").status_code == 200


def test_a_replacement_worker_reads_the_profile_as_it_is_now(gateway: GatewayProcess) -> None:
    original = gateway.profile_path.read_text()
    before = gateway.log().count("reloaded")
    gateway.profile_path.write_text(original.replace("  - model: embedding", "  - model: edited\n    deployments: "
                                                     "[{target: local/smollm2-135m-instruct}]\n  - model: embedding"))
    try:
        assert eventually(lambda: gateway.log().count("reloaded") >= before + 2)  # both workers took the edit
        victim = workers_of(gateway.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert eventually(lambda: victim not in workers_of(gateway.pid) and len(workers_of(gateway.pid)) == 2)
        assert eventually(lambda: listeners(gateway.port) == 2)
        for _ in range(20):  # whichever worker answers, the route added after the start is there
            with httpx.Client() as client:
                ids = [m["id"] for m in client.get(f"{gateway.base_url}/models").json()["data"]]
                assert "edited" in ids
    finally:
        gateway.profile_path.write_text(original)


def test_a_taken_address_fails_at_once() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_stops_on_sigterm_with_its_workers() -> None:
    gw = GatewayProcess(PROFILE, workers=2).start()
    try:
        pids = workers_of(gw.pid)
        gw.terminate()
        assert gw.wait(timeout=40) == 0
        assert not [p for p in pids if Path(f"/proc/{p}").exists()]
    finally:
        gw.close()


async def _empty_app(scope: dict[str, object], receive: object, send: object) -> None:
    """An ASGI app with nothing to start."""


def test_a_started_worker_freezes_what_startup_built_and_collects_young_objects_less_often() -> None:
    import asyncio
    import gc

    import uvicorn

    from server.workers import YOUNG_GC_THRESHOLD, _Server

    threshold = gc.get_threshold()
    server = _Server(uvicorn.Config(_empty_app, port=free_port(), lifespan="off", log_level="warning"))
    app_state: list[object] = []  # stands for what startup builds: alive, tracked by the collector

    async def start_and_stop() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        server.should_exit = True
        await serving

    try:
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        asyncio.run(start_and_stop())
        assert gc.get_freeze_count() > 0
        assert not any(obj is app_state for obj in gc.get_objects())  # frozen: out of every generation
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
