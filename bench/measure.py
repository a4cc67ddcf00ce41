"""One measurement each: a wrk run at fixed concurrency, an open-loop fixed-rate run (openloop.c, compiled here on
first use), a stream timing run, and a background sampler of a system's memory while load runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from systems import ROOT, MemorySample, System

__all__ = ["MemoryPeak", "Scenario", "loadgen_rate", "loadgen_stream", "openloop", "wrk"]

HERE = Path(__file__).resolve().parent
OPENLOOP_SOURCE = HERE / "openloop.c"
OPENLOOP = HERE / ".bin" / "openloop"
_CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-std=c11"]
_MARK = "WRK_JSON "
_PROMPT = [{"role": "user", "content": "Say hello in one short sentence."}]
_INPUTS = [f"the quick brown fox jumps over the lazy dog {i}" for i in range(16)]


@dataclass(frozen=True)
class Scenario:
    """A kind of request: where it goes and what the body says."""

    name: str
    path: str
    upstream_model: str
    stream: bool = False

    def body(self, system: System) -> str:
        """The request body as this system expects it (only the model name differs)."""
        payload: dict[str, Any] = {"model": system.model(self.upstream_model)}
        if self.path.endswith("/embeddings"):
            payload["input"] = _INPUTS
        else:
            payload["messages"] = _PROMPT
            if self.stream:
                payload["stream"] = True
        return json.dumps(payload, separators=(",", ":"))

    def url(self, system: System) -> str:
        """The full URL on ``system``."""
        return f"http://127.0.0.1:{system.port}{self.path}"


def wrk(system: System, scenario: Scenario, connections: int, duration: float) -> dict[str, Any]:
    """wrk at ``connections`` for ``duration`` s: requests/s, latency percentiles (ms), errors."""
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
            "-s", str(HERE / "post.lua"), scenario.url(system)]
    env = {**os.environ, "BENCH_BODY": scenario.body(system)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len(_MARK):])
    errors = sum(raw["errors"].values())
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds, "requests": raw["requests"], "errors": errors,
        "error_detail": raw["errors"], "mb_per_s": raw["bytes"] / seconds / 1e6,
        "latency_ms": {k: v / 1000 for k, v in raw["latency_us"].items()},
    }


def _json_run(argv: list[str], timeout: float, name: str) -> dict[str, Any]:
    """Runs a client that prints one JSON object on stdout."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def openloop() -> Path:
    """``bench/.bin/openloop``, compiled from ``openloop.c`` with ``cc`` from PATH when missing or older than the
    source. Built under a temporary name and renamed, so that a concurrent run never sees half a binary."""
    if OPENLOOP.exists() and OPENLOOP.stat().st_mtime >= OPENLOOP_SOURCE.stat().st_mtime:
        return OPENLOOP
    cc = shutil.which("cc")
    if cc is None:
        raise RuntimeError(f"no C compiler: 'cc' is not on PATH, and {OPENLOOP_SOURCE.name} (the fixed-rate load "
                           "generator) must be compiled; install one, e.g. apt-get install gcc")
    OPENLOOP.parent.mkdir(exist_ok=True)
    building = OPENLOOP.with_name(f"openloop.{os.getpid()}.tmp")
    done = subprocess.run([cc, *_CFLAGS, "-o", str(building), str(OPENLOOP_SOURCE), "-lm"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        building.unlink(missing_ok=True)
        raise RuntimeError(f"compiling {OPENLOOP_SOURCE.name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    building.replace(OPENLOOP)
    return OPENLOOP


def loadgen_rate(system: System, scenario: Scenario, rate: float, duration: float,
                 connections: int = 64) -> dict[str, Any]:
    """Open-loop fixed-rate run (see openloop.c)."""
    return _json_run([str(openloop()), "--url", scenario.url(system), "--body", scenario.body(system),
                      "--rate", f"{rate:.1f}", "--duration", f"{duration:g}", "--connections", str(connections)],
                     timeout=duration + 60, name="openloop")


def loadgen_stream(system: System, scenario: Scenario, count: int) -> dict[str, Any]:
    """Sequential streams: time to first event and inter-event gaps (see loadgen.py)."""
    return _json_run([sys.executable, str(HERE / "loadgen.py"), "stream", "--url", scenario.url(system),
                      "--body", scenario.body(system), "--count", str(count)], timeout=count * 5 + 60, name="loadgen")


class MemoryPeak:
    """Samples a system's memory every ``interval`` s in a thread while in a ``with`` block; keeps the peak."""

    def __init__(self, system: System, interval: float = 0.5) -> None:
        self.system = system
        self.interval = interval
        self.peak = MemorySample(0, 0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sample = self.system.memory()
            self.peak = MemorySample(max(self.peak.processes, sample.processes),
                                     max(self.peak.max_rss_mb, sample.max_rss_mb),
                                     max(self.peak.total_pss_mb, sample.total_pss_mb))

    def __enter__(self) -> MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
