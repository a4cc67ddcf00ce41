"""Serve with N worker processes, each on its own ``SO_REUSEPORT`` listening socket.

uvicorn's own supervisor hands every worker the same listening socket, and whichever worker wakes first accepts:
under load keep-alive connections pile onto one worker (measured 44 vs 20 of 64 connections), which then queues
while the other idles; that was the whole p99. With one socket per worker the kernel spreads new connections
evenly by hash. The supervisor here starts the workers, forwards ``SIGHUP`` (profile reload) and the stop signals
to them, replaces a worker that dies, and stops when one cannot start (the profile or the address is broken and
would fail the same way again). The workers' metrics meet in a directory (prometheus-client's multiprocess
mode), so ``/metrics`` answers the same totals whichever worker a scrape reaches. Workers are forked from the
supervisor after it imported the app and loaded the profile (:func:`server.asgi.preload`), so each starts in a
fraction of the time a fresh interpreter takes.
"""

from __future__ import annotations

import gc
import logging
import logging.config
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

__all__ = ["serve"]

log = logging.getLogger("uvicorn.error")
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where the workers' metrics meet (prometheus-client's multiprocess mode): ``/metrics`` on any worker adds up all."""
_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
STARTUP_FAILURE = 3
"""A worker's exit status when it never started serving (uvicorn's own code for this)."""
STOP_WAIT_S = 35.0
"""How long a stopping worker gets (uvicorn's graceful shutdown is 30 s) before it is killed."""


def serve(options: dict[str, Any], workers: int) -> int:
    """Run uvicorn with ``options`` (``uvicorn.Config`` keyword arguments) in ``workers`` processes."""
    if workers == 1:
        return _run_worker(options, reuse_port=False)
    logging.config.dictConfig(options["log_config"])  # the workers' uvicorn.Config does this for them
    _check_address(options["host"], options["port"])
    shared = None
    if not os.environ.get(METRICS_DIR_ENV):  # the operator's own directory, if set, is theirs to keep
        shared = os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="model-runtime-metrics-")
    import server.app  # noqa: F401  (after the metrics directory is set; forked workers inherit the modules)

    try:
        return _Supervisor(options, workers).run()
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


def _run_worker(options: dict[str, Any], reuse_port: bool = True) -> int:
    try:
        config = uvicorn.Config(**options)
        server = _Server(config)
        sockets = [_listen(config.host, config.port, config.backlog)] if reuse_port else None
    except Exception:
        log.exception("worker could not start")
        return STARTUP_FAILURE  # would fail the same way again: the supervisor stops instead of respawning
    return _serve_worker(server, sockets)


YOUNG_GC_THRESHOLD = 20_000
"""Allocations (net of deallocations) between two young collections in a serving worker; Python's default is 700.

A request has a few hundred objects alive while it runs, freed by reference counting when it ends. The count
behind the threshold does not go below zero, so the ups and downs of 32 requests in flight ratchet it up: at 700,
a young collection every ~17 requests and a full one every ~2,000, 8% of a worker's CPU (chat, 1 worker, wrk
c=32: 350 young collections a second). At 20,000 the count of that load stays near 4,000 and the collector runs
only for real cyclic garbage, at most some 20,000 objects (a few MB, a pause of ~2 ms)."""


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The app, its profile and its runtime were built during startup and live as long as the process: frozen
        # too, so that full collections stop walking them (39,000 objects, 14 ms a collection).
        gc.freeze()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def _serve_worker(server: uvicorn.Server, sockets: list[socket.socket] | None) -> int:
    # Everything loaded so far (modules; with several workers, the app and the profile) lives as long as the
    # process: out of the collector's sight, full collections stop walking it, and forked workers keep sharing
    # those pages with the supervisor. Open loop at half saturation, 3 runs each: p99 28-187 ms -> 14-28 ms.
    gc.freeze()
    server.run(sockets=sockets)
    return 0 if server.started else STARTUP_FAILURE


def _worker_main(options: dict[str, Any]) -> None:  # the target of each worker process
    # Not the supervisor's handlers: uvicorn installs its own for the stop signals, the app one for SIGHUP.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # blocked by the supervisor around the fork
    sys.exit(_run_worker(options))


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _check_address(host: str, port: int) -> None:
    """Fail at once when something else listens there: ``SO_REUSEPORT`` would otherwise share the port with it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"model-runtime: cannot listen on {host}:{port}: {exc.strerror}") from None


class _Supervisor:
    def __init__(self, options: dict[str, Any], workers: int) -> None:
        self.options, self.count = options, workers
        # Forked, the workers start with the modules and the profile this process has loaded already.
        self.context = multiprocessing.get_context("fork")
        self.workers: list[BaseProcess] = []
        self.stop = threading.Event()
        self.signals: list[int] = []
        self.status = 0

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        log.info("Started parent process [%d] with %d workers on their own sockets", os.getpid(), self.count)
        self.workers = [self._start() for _ in range(self.count)]
        while not self.stop.wait(0.25):
            self._handle_signals()
            self._replace_dead()
        self._stop_all()
        return self.status

    def _on_signal(self, sig: int, _: object) -> None:
        self.signals.append(sig)
        if sig != signal.SIGHUP:
            self.stop.set()

    def _handle_signals(self) -> None:
        while self.signals:
            if self.signals.pop(0) == signal.SIGHUP:
                for worker in self.workers:
                    _send(worker, signal.SIGHUP)

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=_worker_main, args=(self.options,), daemon=False)
        # Until the child has its own handlers, a signal for it must wait rather than reach the supervisor's.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        return process

    def _replace_dead(self) -> None:
        for index, worker in enumerate(self.workers):
            if self.stop.is_set():  # stopping: a worker that ended on the same signal is not replaced
                return
            if worker.is_alive():
                continue
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                log.error("Worker [%s] failed to start; stopping", worker.pid)
                self.status = STARTUP_FAILURE
                self.stop.set()
                return
            log.warning("Worker [%s] died (exit code %s); starting another", worker.pid, worker.exitcode)
            _forget_metrics(worker.pid)
            self.workers[index] = self._start()

    def _stop_all(self) -> None:
        for worker in self.workers:
            _send(worker, signal.SIGTERM)
        for worker in self.workers:
            worker.join(STOP_WAIT_S)
            if worker.is_alive():
                worker.kill()
                worker.join()
        log.info("Stopped parent process [%d]", os.getpid())


def _forget_metrics(pid: int | None) -> None:
    """A dead worker's in-flight gauge no longer counts (its counters still do: they happened)."""
    if pid is not None and os.environ.get(METRICS_DIR_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _send(worker: BaseProcess, sig: int) -> None:
    if worker.pid is not None and worker.exitcode is None:
        os.kill(worker.pid, sig)
