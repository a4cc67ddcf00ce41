"""``make bench-soak``: Model Runtime alone under load for 10 minutes; does worker memory stay flat (< 5% growth)?

The load rotates chat, stream and embeddings at 32 connections (wrk) in 20-second segments; the first minute
is a warm-up (allocator pools, caches), then the worker RSS after it is the baseline for the growth figure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from measure import Scenario, wrk
from procs import Children
from systems import ModelRuntime, Upstream

__all__ = ["run_soak", "soak_markdown"]

SEGMENT_S = 20.0
WARMUP_S = 60.0
CONNECTIONS = 32
_SCENARIOS = [Scenario("chat", "/v1/chat/completions", "bench-model"),
              Scenario("stream", "/v1/chat/completions", "bench-model", stream=True),
              Scenario("embeddings", "/v1/embeddings", "bench-model")]


def run_soak(args: argparse.Namespace, children: Children, workdir: Path,
             log: Callable[[str], None]) -> dict[str, Any]:
    """Run the soak; the raw samples and the growth."""
    upstream = Upstream("direct", 1, workdir / "upstream")
    upstream.start(children)
    system = ModelRuntime("model-runtime", args.workers, workdir / "model-runtime", upstream_port=upstream.port)
    ready = system.start(children)
    log(f"model-runtime ready in {ready:.2f} s; warming up {WARMUP_S:g} s, then {args.soak_minutes:g} min of load")
    idle = system.memory()
    samples: list[dict[str, Any]] = []
    requests = 0
    elapsed = 0.0
    segment = 0
    baseline = None
    total = WARMUP_S + args.soak_minutes * 60
    while elapsed < total:
        scenario = _SCENARIOS[segment % len(_SCENARIOS)]
        result = wrk(system, scenario, CONNECTIONS, SEGMENT_S)
        elapsed += SEGMENT_S
        segment += 1
        if system.child is None or not system.child.alive():
            tail = system.child.log_tail() if system.child else ""
            raise RuntimeError(f"model-runtime died during the soak:\n{tail}")
        memory = system.memory()
        if elapsed <= WARMUP_S:
            baseline = memory
            continue
        requests += result["requests"]
        samples.append({"t_s": elapsed - WARMUP_S, "scenario": scenario.name, "rps": result["rps"],
                        "errors": result["errors"], **asdict(memory)})
        log(f"soak {elapsed - WARMUP_S:5.0f} s {scenario.name:10} {result['rps']:8,.0f} req/s  worker RSS "
            f"{memory.max_rss_mb:6.1f} MiB  tree PSS {memory.total_pss_mb:6.1f} MiB")
    assert baseline is not None
    end = samples[-1]
    return {
        "systems": {"model-runtime": {"workers": args.workers, "ready_s": [ready], "idle": asdict(idle)}},
        "minutes": args.soak_minutes, "load": f"wrk c={CONNECTIONS} rotating chat/stream/embeddings every "
                                              f"{SEGMENT_S:g} s after a {WARMUP_S:g} s warm-up",
        "start_rss_mb": baseline.max_rss_mb, "end_rss_mb": end["max_rss_mb"],
        "peak_rss_mb": max(s["max_rss_mb"] for s in samples),
        "start_pss_mb": baseline.total_pss_mb, "end_pss_mb": end["total_pss_mb"],
        "growth_pct": (end["max_rss_mb"] - baseline.max_rss_mb) / baseline.max_rss_mb * 100,
        "requests": requests, "errors": sum(s["errors"] for s in samples), "samples": samples,
    }


def soak_markdown(results: dict[str, Any]) -> str:
    """The soak's report."""
    meta = results["meta"]
    ok = results["growth_pct"] < 5
    lines = [f"# Model Runtime soak — {meta['started']}", "",
             f"- commit `{meta['commit']}`, {meta['workers']} workers, {results['minutes']:g} min of {results['load']}",
             f"- load average {meta['load_at_start']} at start, {meta['load_at_end']} at end", "",
             f"Worker RSS {results['start_rss_mb']:.1f} → {results['end_rss_mb']:.1f} MiB "
             f"(**{results['growth_pct']:+.1f}%**, target < 5%: **{'pass' if ok else 'FAIL'}**), peak "
             f"{results['peak_rss_mb']:.1f} MiB; tree PSS {results['start_pss_mb']:.1f} → {results['end_pss_mb']:.1f}"
             f" MiB; {results['requests']:,} requests, {results['errors']} errors.", "",
             "| t (s) | load | req/s | worker RSS MiB | tree PSS MiB |", "|---|---|---|---|---|"]
    lines += [f"| {s['t_s']:.0f} | {s['scenario']} | {s['rps']:,.0f} | {s['max_rss_mb']:.1f} | "
              f"{s['total_pss_mb']:.1f} |" for s in results["samples"]]
    return "\n".join(lines) + "\n"
