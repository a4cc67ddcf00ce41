"""A/B of the gateway at two or more commits: throughput, and the CPU a worker spends per request.

    python bench/ab.py HEAD~1 HEAD                  # the parent against HEAD
    python bench/ab.py HEAD .                       # HEAD against the working tree as it is (uncommitted edits)
    python bench/ab.py A B --workers 2 --rounds 12  # more rounds for a smaller difference

Each commit is checked out into a temporary git worktree (``.`` is this tree itself) and byte-compiled; one fake
upstream serves them all. Then, round after round, each gateway in turn gets one wrk run at saturation (chat, 32
connections) and one open-loop run at ``--rate`` req/s. Reported per commit, as medians over the rounds: req/s
at saturation, and the worker CPU (user + system, from /proc) per request at saturation and at the fixed rate.

The CPU per request varies less from run to run than req/s on a shared machine, and the fixed rate shows what a
request costs when it comes alone (two wake-ups each), which is what the p99 at half saturation depends on. A
difference smaller than the spread of the rounds (printed) is noise: add rounds rather than trust it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from measure import Scenario, loadgen_rate, wrk
from procs import Children, tree_pids
from systems import ROOT, ModelRuntime, Upstream

SCENARIOS = {"chat": Scenario("chat", "/v1/chat/completions", "bench-model"),
             "stream": Scenario("stream", "/v1/chat/completions", "bench-model", stream=True),
             "embeddings": Scenario("embeddings", "/v1/embeddings", "bench-model")}


@dataclass
class Checkout(ModelRuntime):
    """Model Runtime run from another checkout's code (with this tree's virtual environment)."""

    root: Path = ROOT

    def env(self) -> dict[str, str]:
        return {**super().env(), "PYTHONPATH": str(self.root)}


@dataclass
class Tally:
    """One commit's figures, a value per round."""

    rps: list[float]
    cpu_saturated_us: list[float]
    cpu_at_rate_us: list[float]
    p99_at_rate_ms: list[float]


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _workers(system: ModelRuntime) -> list[int]:
    """The serving processes: the workers under a supervisor, or the one process."""
    assert system.child is not None
    pids = tree_pids(system.child.pid)
    return [pid for pid in pids if pid != system.child.pid] or pids


def _spread(values: list[float], digits: str) -> str:
    return f"{min(values):{digits}} to {max(values):{digits}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="+", help="commits (anything git rev-parse takes), or . for the working tree")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=3000.0, help="the open-loop run's req/s (0: none)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="chat")
    args = parser.parse_args()
    if len(args.revs) < 2:
        parser.error("give two commits or more")
    worktrees: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mr-ab-") as tmp:
        try:
            roots: list[tuple[str, Path]] = []
            for i, rev in enumerate(args.revs):
                if rev == ".":
                    root = ROOT
                else:
                    root = Path(tmp) / f"tree{i}"
                    _git("worktree", "add", "--detach", str(root), _git("rev-parse", "--verify", f"{rev}^{{commit}}"))
                    worktrees.append(root)
                subprocess.run([sys.executable, "-m", "compileall", "-q", "core", "server", "providers"], cwd=root,
                               check=True)
                roots.append((f"{rev} ({_git('-C', str(root), 'rev-parse', '--short', 'HEAD')})"
                              if rev != "." else ". (working tree)", root))
            with Children().guarded() as children:  # every gateway stopped before its worktree goes
                tallies = _measure(args, [root for _, root in roots], children, Path(tmp))
        finally:
            for root in worktrees:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(root)], check=False)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
    _report(args, roots, tallies)


def _measure(args: argparse.Namespace, roots: list[Path], children: Children, workdir: Path) -> list[Tally]:
    """The rounds: in each, every gateway in turn (the order reversed every other round, so that a drift of the
    machine within a round does not favour one), at saturation and then at the fixed rate."""
    scenario = SCENARIOS[args.scenario]
    upstream = Upstream("upstream", 1, workdir / "upstream")
    upstream.start(children)
    systems = []
    for i, root in enumerate(roots):
        system = Checkout(f"gateway{i}", args.workers, workdir / f"gateway{i}", upstream_port=upstream.port,
                          root=root)
        system.start(children)
        wrk(system, scenario, 32, 2)  # warm-up
        systems.append(system)
    tallies = [Tally([], [], [], []) for _ in systems]
    for round_ in range(args.rounds):
        order = list(zip(systems, tallies, strict=True))
        for system, tally in order if round_ % 2 == 0 else reversed(order):
            pids = _workers(system)
            wrk(system, scenario, 32, 1)
            before = _cpu_s(pids)
            out = wrk(system, scenario, 32, args.seconds)
            if out["errors"]:
                raise SystemExit(f"{system.name}: {out['errors']} errors under load: {out['error_detail']}")
            tally.rps.append(out["rps"])
            tally.cpu_saturated_us.append(1e6 * (_cpu_s(pids) - before) / out["requests"])
            if args.rate > 0:
                before = _cpu_s(pids)
                out = loadgen_rate(system, scenario, args.rate, args.seconds)
                if out["errors"] or out["unfinished"] or not out["ok"]:
                    raise SystemExit(f"{system.name} at {args.rate:g} req/s: {out['ok']} answered, {out['errors']} "
                                     f"failed, {out['unfinished']} unfinished")
                tally.cpu_at_rate_us.append(1e6 * (_cpu_s(pids) - before) / out["ok"])
                tally.p99_at_rate_ms.append(out["latency_ms"]["p99"])
        print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{t.rps[-1]:,.0f} req/s" for t in tallies),
              file=sys.stderr, flush=True)
    return tallies


def _report(args: argparse.Namespace, roots: list[tuple[str, Path]], tallies: list[Tally]) -> None:
    base = tallies[0]
    print(f"\n{args.scenario}, {args.workers} worker(s), {args.rounds} rounds of {args.seconds:g} s, medians "
          "(change against the first; range over the rounds):\n")
    rate = f" at {args.rate:,.0f} req/s" if args.rate > 0 else ""
    print(f"| commit | req/s (c=32) | CPU µs/request (c=32) | CPU µs/request{rate} | p99 ms{rate} | rounds won |")
    print("|---|---|---|---|---|---|")
    for (label, _), tally in zip(roots, tallies, strict=True):
        first = tally is base
        won = "" if first else f"{sum(a > b for a, b in zip(tally.rps, base.rps, strict=True))}/{args.rounds}"
        print(f"| {label} | {_cell(tally.rps, base.rps, first, ',.0f')}"
              f" | {_cell(tally.cpu_saturated_us, base.cpu_saturated_us, first, '.1f')}"
              f" | {_cell(tally.cpu_at_rate_us, base.cpu_at_rate_us, first, '.1f')}"
              f" | {_cell(tally.p99_at_rate_ms, base.p99_at_rate_ms, first, '.2f')} | {won} |")


def _cell(values: list[float], base: list[float], first: bool, digits: str) -> str:
    """The median, its change against the first commit's, and the range over the rounds."""
    if not values:
        return "—"
    median = statistics.median(values)
    change = "" if first else f" ({median / statistics.median(base) - 1:+.1%})"
    return f"{median:{digits}}{change}, {_spread(values, digits)}"

if __name__ == "__main__":
    main()
