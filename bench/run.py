"""The benchmark harness (``make bench``): direct, nginx, LiteLLM proxy and Model Runtime side by side against one
fake upstream, interleaved (A B C D A B C D), medians of the repetitions. See ../shared/bench/PROTOCOL.md.

    python bench/run.py                 # the full run, ~17 minutes
    python bench/run.py --quick         # a one-minute smoke: short runs, one repetition, no LiteLLM
    python bench/run.py --soak          # Model Runtime alone under load for 10 minutes: memory growth

Results go to bench/results/: ``<timestamp>.json``/``.md``/``.png`` and ``latest.*`` (``soak-*`` for the soak).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from measure import MemoryPeak, Scenario, loadgen_rate, loadgen_stream, wrk
from procs import Children
from report import median_of, write_results
from soak import run_soak
from systems import ROOT, LiteLLM, ModelRuntime, Nginx, System, Upstream
from tools import commit, ensure_apt, ensure_litellm, ensure_tools_venv, machine_facts, precompile

CHAT = Scenario("chat", "/v1/chat/completions", "bench-model")
STREAM = Scenario("stream", "/v1/chat/completions", "bench-model", stream=True)
EMBEDDINGS = Scenario("embeddings", "/v1/embeddings", "bench-model")
CHAT_50MS = Scenario("chat-50ms", "/v1/chat/completions", "slow-model")
PACED_STREAM = Scenario("stream-paced", "/v1/chat/completions", "slow-model", stream=True)
SYSTEM_NAMES = ("direct", "nginx", "litellm", "model-runtime")


def log(message: str) -> None:
    """A progress line with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def uptime() -> str:
    """The load averages, which say how busy the shared machine was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _check(system: System, scenario: Scenario) -> str | None:
    """One request; None when the answer looks right, else what is wrong."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", system.port, timeout=30)
    try:
        connection.request("POST", scenario.path, scenario.body(system).encode(),
                           {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-key"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return f"{scenario.name}: {exc}"
    finally:
        connection.close()
    wanted = (b'"embedding":' if scenario.path.endswith("/embeddings") else b"data: [DONE]" if scenario.stream
              else b'"chat.completion"')
    if response.status != 200 or wanted not in body:
        return f"{scenario.name}: HTTP {response.status} {body[:300]!r}"
    vectors = body.count(b'"embedding":')
    if scenario.name == "embeddings" and vectors != 16:
        return f"embeddings: {vectors} vectors instead of 16"
    return None


class Harness:
    """One run: the systems, the plan, the raw results."""

    def __init__(self, args: argparse.Namespace, children: Children, workdir: Path) -> None:
        self.args = args
        self.children = children
        self.workdir = workdir
        self.results: dict[str, Any] = {"systems": {}, "throughput": {}, "fixed_rate": {}, "streams": {}}
        self.upstream = Upstream("direct", 1, workdir / "upstream")
        self.systems: list[System] = [self.upstream]
        self.unavailable: dict[str, str] = {}
        self.failed: dict[tuple[str, str], str] = {}  # (system, scenario) -> why it is left out
        self.step = 0

    # -- setup -----------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        log("checking tools")
        missing = ensure_apt({"wrk": "wrk", "nginx": "nginx", "setpriv": "util-linux", "cc": "gcc"})
        if "wrk" in missing:
            raise SystemExit(f"cannot run without wrk: {missing['wrk']}")
        if "cc" in missing:
            log(f"no C compiler for openloop.c, so no fixed-rate runs: {missing['cc']}")
        precompile()
        up = self.upstream.port
        wanted: list[System] = []
        if "nginx" in self.args.systems:
            if "nginx" in missing:
                self.unavailable["nginx"] = missing["nginx"]
            else:
                wanted.append(Nginx("nginx", self.args.workers, self.workdir / "nginx", upstream_port=up))
        if "litellm" in self.args.systems:
            reason = ensure_litellm()
            if reason:
                self.unavailable["litellm"] = reason
            else:
                wanted.append(LiteLLM("litellm", self.args.workers, self.workdir / "litellm", upstream_port=up))
        if "model-runtime" in self.args.systems:
            wanted.append(ModelRuntime("model-runtime", self.args.workers, self.workdir / "model-runtime",
                                       upstream_port=up))
        for name, reason in self.unavailable.items():
            log(f"{name} is unavailable: {reason}")
        ready: dict[str, list[float]] = {"direct": [self.upstream.start(self.children)]}
        # Cold starts, interleaved: each system is started, timed and stopped, then all started again and kept.
        for round_ in range(self.args.reps):
            for system in list(wanted):
                if system.child is not None:
                    system.stop(self.children)
                log(f"starting {system.name} ({system.workers} worker(s)), start {round_ + 1}/{self.args.reps}")
                try:
                    ready.setdefault(system.name, []).append(system.start(self.children))
                except RuntimeError as exc:
                    self.unavailable[system.name] = f"did not start: {str(exc)[:1500]}"
                    wanted.remove(system)
                    system.stop(self.children)
                    continue
                log(f"  {system.name} ready in {ready[system.name][-1]:.2f} s")
                if round_ < self.args.reps - 1:
                    system.stop(self.children)
        self.systems.extend(wanted)
        time.sleep(3)  # let start-up work settle before the idle sample
        for system in self.systems:
            self.results["systems"][system.name] = {
                "available": True, "workers": system.workers, "ready_s": ready.get(system.name, []),
                "idle": asdict(system.memory()), "peak": asdict(system.memory())}
        for name, reason in self.unavailable.items():
            self.results["systems"][name] = {"available": False, "reason": reason}
        for system in self.systems:
            for scenario in (CHAT, STREAM, EMBEDDINGS, CHAT_50MS, PACED_STREAM):
                problem = _check(system, scenario)
                if problem:
                    log(f"{system.name}: {problem}: left out of {scenario.name}")
                    self.failed[(system.name, scenario.name)] = problem

    def _ok(self, system: System, scenario: Scenario) -> bool:
        return (system.name, scenario.name) not in self.failed and system.child is not None and system.child.alive()

    @contextlib.contextmanager
    def _peak(self, system: System) -> Iterator[None]:
        with MemoryPeak(system) as sampler:
            yield
        stored = self.results["systems"][system.name]["peak"]
        for key, value in asdict(sampler.peak).items():
            stored[key] = max(stored[key], value)

    def _measure(self, label: str, total: int, system: System, scenario: Scenario,
                 run: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        self.step += 1
        if not self._ok(system, scenario):
            return None
        try:
            with self._peak(system):
                result = run()
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"({self.step}/{total}) {label} {system.name}: FAILED {str(exc)[:500]}")
            self.failed[(system.name, scenario.name)] = str(exc)[:1500]
            return None
        log(f"({self.step}/{total}) {label} {system.name}: {_summary(result)}")
        return result

    # -- phases ----------------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        log("warming up every system on every scenario")
        for system in self.systems:
            for scenario in (CHAT, STREAM, EMBEDDINGS):
                if self._ok(system, scenario):
                    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired), self._peak(system):
                        wrk(system, scenario, 32, self.args.warmup)

    def throughput(self) -> None:
        points = [(CHAT, c) for c in self.args.levels] + [(STREAM, c) for c in self.args.stream_levels]
        points += [(EMBEDDINGS, c) for c in self.args.stream_levels] + [(CHAT_50MS, c) for c in self.args.slow_levels]
        total = len(points) * len(self.systems) * self.args.reps
        self.step = 0
        for rep in range(self.args.reps):
            for scenario, connections in points:
                for system in self.systems:
                    result = self._measure(f"rep {rep + 1} {scenario.name} c={connections}", total, system, scenario,
                                           partial(wrk, system, scenario, connections, self.args.duration))
                    runs = self.results["throughput"].setdefault(scenario.name, {}).setdefault(
                        str(connections), {}).setdefault(system.name, [])
                    if result is not None:
                        runs.append(result)

    def saturation(self, name: str) -> float:
        """A system's chat throughput at saturation: the best concurrency level, medians of the repetitions."""
        levels = self.results["throughput"].get("chat", {})
        return max((median_of(runs.get(name, []), "rps") or 0.0 for runs in levels.values()), default=0.0)

    def fixed_rate(self) -> None:
        ours = self.saturation("model-runtime")
        rate = round(ours / 2) if ours else 1000.0
        self.results["fixed_rate"] = {"rate": rate, "basis": "half of Model Runtime's chat saturation"
                                      if ours else "Model Runtime unavailable: a fixed 1000 req/s", "runs": {}}
        log(f"fixed rate: {rate:.0f} req/s (open loop, openloop.c), {self.args.duration:g} s")
        total = len(self.systems) * self.args.reps
        self.step = 0
        for _ in range(self.args.reps):
            for system in self.systems:
                own = self.saturation(system.name)
                # A system that cannot sustain the rate would only build an unbounded queue: measure it at half
                # of its own saturation instead, and say so.
                system_rate = rate if not own or own >= 1.1 * rate else round(own / 2)
                result = self._measure(f"fixed rate {system_rate:.0f}/s", total, system, CHAT,
                                       partial(loadgen_rate, system, CHAT, system_rate, self.args.duration))
                if result is not None:
                    self.results["fixed_rate"]["runs"].setdefault(system.name, []).append(result)

    def streams(self) -> None:
        log(f"streams: {self.args.streams} instant streams (time to first chunk), {self.args.paced} paced "
            "streams (50 ms to first chunk, then 2 ms apart: inter-chunk delay), one at a time")
        total = 2 * len(self.systems) * self.args.reps
        self.step = 0
        for _ in range(self.args.reps):
            for system in self.systems:
                for scenario, count in ((STREAM, self.args.streams), (PACED_STREAM, self.args.paced)):
                    result = self._measure(f"{scenario.name} x{count}", total, system, scenario,
                                           partial(loadgen_stream, system, scenario, count))
                    if result is not None:
                        self.results["streams"].setdefault(scenario.name, {}).setdefault(system.name, []).append(
                            result)

    def finish(self) -> None:
        for system in self.systems:
            self.results["systems"][system.name]["after_load"] = asdict(system.memory())
        self.results["left_out"] = [{"system": s, "scenario": sc, "reason": r} for (s, sc), r in self.failed.items()]


def _summary(result: dict[str, Any]) -> str:
    if "rps" in result:
        lat = result["latency_ms"]
        errors = f", {result['errors']} errors" if result["errors"] else ""
        return f"{result['rps']:,.0f} req/s, p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms{errors}"
    if "achieved_rate" in result:
        lat = result["latency_ms"]
        return (f"{result['achieved_rate']:,.0f} req/s achieved, p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms, "
                f"{result['errors'] + result['unfinished']} failed")
    return (f"first chunk p50 {result['ttfb_ms']['p50']:.3f} ms, gap p50 {result['gap_ms']['p50']:.3f} ms "
            f"p99 {result['gap_ms']['p99']:.3f} ms, {result['events_per_stream']:g} events")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute smoke run")
    parser.add_argument("--soak", action="store_true", help="the 10-minute memory soak of Model Runtime")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers per system (cores)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEM_NAMES[1:], default=None,
                        help="systems besides direct (default: all; --quick: nginx model-runtime)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.systems = args.systems or (["nginx", "model-runtime"] if quick else list(SYSTEM_NAMES[1:]))
    args.duration = 3.0 if quick else 10.0
    args.warmup = 1.0 if quick else 2.0
    args.reps = 1 if quick else 2
    args.levels = [1, 32] if quick else [1, 10, 32, 64]
    args.stream_levels = [32] if quick else [1, 32]
    args.slow_levels = [] if quick else [64]
    args.streams = 50 if quick else 200
    args.paced = 5 if quick else 30
    return args


def main() -> None:
    args = parse_args()
    started = time.time()
    meta: dict[str, Any] = {
        "commit": commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_at_start": uptime(),
        "mode": "soak" if args.soak else "quick" if args.quick else "full", "workers": args.workers,
        "duration_s": args.duration, "reps": args.reps, "levels": {"chat": args.levels, "stream": args.stream_levels,
                                                                    "embeddings": args.stream_levels,
                                                                    "chat-50ms": args.slow_levels},
        "wrk_threads": "2 (1 at 1 connection)",
    }
    log(f"commit {meta['commit'][:12]}, load {meta['load_at_start']}, {args.workers} workers per system")
    with Children().guarded() as children, tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx runs as nobody and must reach its own directory
        if args.soak:
            precompile()  # as the full run does: its start-to-ready then measures start-up, not the compiler
            results = run_soak(args, children, workdir, log)
        else:
            harness = Harness(args, children, workdir)
            harness.prepare()
            harness.warm_up()
            harness.throughput()
            harness.fixed_rate()
            harness.streams()
            harness.finish()
            results = harness.results
        log("stopping every process")
    meta.update(machine_facts())
    meta["load_at_end"] = uptime()
    meta["elapsed_s"] = round(time.time() - started)
    results["meta"] = meta
    chart_reason = None if args.soak else ensure_tools_venv()
    json_path, md_path, png_path = write_results(results, chart_reason)
    log(f"load at start {meta['load_at_start']}, at end {meta['load_at_end']}; {meta['elapsed_s']} s")
    for path in (json_path, md_path, png_path):
        if path is not None:
            log(f"wrote {path.relative_to(ROOT)} (and its latest copy)")
    print()
    print(md_path.read_text())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every child process was stopped", file=sys.stderr)
        sys.exit(130)
