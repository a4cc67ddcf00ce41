"""``make bench-profile``: where Model Runtime spends its time under load, from py-spy samples.

One worker (so one process to sample) against the fake upstream, wrk at 32 connections on each of non-stream
chat, streaming chat and embeddings; py-spy records collapsed stacks (function level) and a flame graph (SVG) of
each. The summary ranks functions by self time and by inclusive time, and groups self time by library.

    python bench/hotspots.py [--duration 15] [--rate 250]

Writes bench/results/profile-<stamp>/ (``<scenario>.txt`` collapsed stacks, ``<scenario>.svg``, ``summary.md``).
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import Scenario, wrk
from procs import Children
from systems import ROOT, ModelRuntime, Upstream
from tools import TOOLS_VENV, commit, ensure_apt, ensure_tools_venv, precompile

HERE = Path(__file__).resolve().parent
SCENARIOS = [Scenario("chat", "/v1/chat/completions", "bench-model"),
             Scenario("stream", "/v1/chat/completions", "bench-model", stream=True),
             Scenario("embeddings", "/v1/embeddings", "bench-model")]
# py-spy names files relative to their sys.path entry: the first path component is the library (or our package).
_OURS = {"core": "our code: core/", "server": "our code: server/",
         **{p.name: "our code: providers/" for p in (ROOT / "providers").iterdir() if p.is_dir()}}
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    # py-spy raw lines start with "process ..." and "thread ..." pseudo-frames
    frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
    return frames, int(count)


def _area(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    if path == "asyncio/runners.py":  # uvloop's run loop: its native I/O and callback dispatch land here
        return "event loop (uvloop, native)"
    top = path.split("/", 1)[0].removesuffix(".py")
    return _OURS.get(top, top)


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    return f"`{match.group('func')}` ({path})"


def summarize(name: str, collapsed: Path, rps: float, top: int = 25) -> str:
    """Markdown tables: self time by function, inclusive time by function, self time by library."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        if not line.strip():
            continue
        frames, count = _frames(line)
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        areas[_area(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return f"## {name}\n\nno samples\n"
    out = [f"## {name} — {rps:,.0f} req/s under the profiler, {total} samples", "",
           "Self time by library:", "", "| library | self % |", "|---|---|"]
    out += [f"| {area} | {count / total:.1%} |" for area, count in areas.most_common()]
    out += ["", "Top functions by self time:", "", "| function | self % |", "|---|---|"]
    out += [f"| {_short(f)} | {c / total:.1%} |" for f, c in self_time.most_common(top)]
    out += ["", "Top functions by inclusive time (our code and the libraries on the request path):", "",
            "| function | inclusive % |", "|---|---|"]
    interesting = [(f, c) for f, c in inclusive.most_common() if c / total >= 0.01
                   and not re.search(r"\((<frozen|.*/asyncio/(base_events|events|runners)\.py)", f)]
    out += [f"| {_short(f)} | {c / total:.1%} |" for f, c in interesting[:top * 2]]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of samples per scenario")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    args = parser.parse_args()
    if ensure_apt({"wrk": "wrk"}):
        sys.exit("wrk is missing")
    reason = ensure_tools_venv()
    if reason:
        sys.exit(f"py-spy unavailable: {reason}")
    py_spy = str(TOOLS_VENV / "bin" / "py-spy")
    precompile()
    out_dir = HERE / "results" / f"profile-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True)
    sections = []
    with Children().guarded() as children, tempfile.TemporaryDirectory(prefix="mr-profile-") as tmp:
        upstream = Upstream("direct", 1, Path(tmp) / "upstream")
        upstream.start(children)
        system = ModelRuntime("model-runtime", 1, Path(tmp) / "model-runtime", upstream_port=upstream.port)
        system.start(children)
        assert system.child is not None
        pid = system.child.pid  # one worker: uvicorn serves in the process it was started in
        for scenario in SCENARIOS:
            wrk(system, scenario, 32, 3)  # warm up
            for fmt, suffix, extra in (("raw", "txt", ["--nolineno"]), ("flamegraph", "svg", [])):
                print(f"[{time.strftime('%H:%M:%S')}] profiling {scenario.name} ({fmt}, {args.duration} s)",
                      flush=True)
                target = out_dir / f"{scenario.name}.{suffix}"
                spy = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", str(args.rate),
                                        "--duration", str(args.duration), "--format", fmt, "-o", str(target),
                                        *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    time.sleep(0.5)
                    result = wrk(system, scenario, 32, args.duration)
                    _, err = spy.communicate(timeout=args.duration + 60)
                finally:
                    if spy.poll() is None:
                        spy.kill()
                        spy.wait()
                if spy.returncode != 0:
                    sys.exit(f"py-spy failed: {err.decode(errors='replace')[-1000:]}")
                if fmt == "raw":
                    sections.append(summarize(scenario.name, target, result["rps"]))
    summary = (f"# py-spy profile of Model Runtime (1 worker, wrk c=32, {args.rate} Hz, {args.duration} s)\n\n"
               f"commit `{commit()}`; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}\n\n"
               + "\n".join(sections))
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    print(f"wrote {out_dir.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
