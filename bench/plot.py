"""The chart of a run: throughput per scenario, added latency at the fixed rate, worker memory, per system.

Runs in the bench-only venv (``bench/.venv-tools``, which has matplotlib) so the product does not depend on it:

    bench/.venv-tools/bin/python bench/plot.py bench/results/latest.json bench/results/latest.png
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LABELS = {"direct": "direct", "nginx": "nginx", "litellm": "LiteLLM", "model-runtime": "Model Runtime"}
COLORS = {"direct": "#9ca3af", "nginx": "#10b981", "litellm": "#f59e0b", "model-runtime": "#2563eb"}


def _median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values) if values else None


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    names = [n for n in LABELS if results["systems"].get(n, {}).get("available")]
    fig, (ax_rps, ax_lat, ax_mem) = plt.subplots(1, 3, figsize=(17, 5.5))
    width = 0.8 / max(1, len(names))

    # Throughput: each scenario at its highest concurrency level.
    groups = [(s, max(levels, key=int)) for s, levels in results["throughput"].items() if levels]
    for i, name in enumerate(names):
        values = [_median(results["throughput"][s][c].get(name, []), "rps") or 0 for s, c in groups]
        bars = ax_rps.bar([g + i * width for g in range(len(groups))], values, width, label=LABELS[name],
                          color=COLORS[name])
        ax_rps.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7, rotation=90, padding=2)
    ax_rps.set_xticks([g + width * (len(names) - 1) / 2 for g in range(len(groups))],
                      [f"{s}\nc={c}" for s, c in groups])
    ax_rps.set_yscale("log")
    ax_rps.set_ylabel("requests/s (log)")
    ax_rps.set_title("Throughput at the highest concurrency (wrk, median)")
    ax_rps.legend(fontsize=8)

    # Added latency over direct at the fixed rate, p50 and p99.
    runs = results["fixed_rate"].get("runs", {})
    floor = {p: _median(runs.get("direct", []), "latency_ms", p) for p in ("p50", "p99")}
    others = [n for n in names if n != "direct" and runs.get(n)]
    for j, pct in enumerate(("p50", "p99")):
        values = []
        for name in others:
            value = _median(runs[name], "latency_ms", pct)
            values.append(max(0.001, value - (floor[pct] or 0.0)) if value is not None else 0.001)
        bars = ax_lat.bar([k + j * 0.4 for k in range(len(others))], values, 0.4, label=f"added {pct}",
                          color=["#60a5fa", "#1e3a8a"][j])
        ax_lat.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
    common = results["fixed_rate"].get("rate", 0)
    ax_lat.set_xticks([k + 0.2 for k in range(len(others))],
                      [LABELS[n] + ("" if runs[n][0]["target_rate"] == common
                                    else f"\n(at its own {runs[n][0]['target_rate']:,.0f}/s)") for n in others])
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("ms over direct (log)")
    ax_lat.set_title(f"Added latency at {common:,.0f} req/s (open loop, chat)")
    ax_lat.axhline(1.0, color="#6b7280", linestyle="--", linewidth=0.8)
    ax_lat.axhline(5.0, color="#6b7280", linestyle=":", linewidth=0.8)
    ax_lat.legend(fontsize=8)

    # Memory: largest process idle and at peak.
    mem = [n for n in names if n != "direct"]
    for j, (key, label) in enumerate((("idle", "idle RSS"), ("peak", "peak RSS under load"))):
        values = [results["systems"][n][key]["max_rss_mb"] for n in mem]
        bars = ax_mem.bar([k + j * 0.4 for k in range(len(mem))], values, 0.4, label=label,
                          color=["#a7f3d0", "#047857"][j])
        ax_mem.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=7, padding=2)
    ax_mem.set_xticks([k + 0.2 for k in range(len(mem))], [LABELS[n] for n in mem])
    ax_mem.axhline(80, color="#6b7280", linestyle="--", linewidth=0.8)
    ax_mem.set_ylabel("MiB (largest process: one worker)")
    ax_mem.set_title("Memory per worker")
    ax_mem.legend(fontsize=8)

    meta = results["meta"]
    fig.suptitle(f"Model Runtime bench — commit {meta['commit'][:12]}, {meta['workers']} workers, "
                 f"{meta['cpus']} cores, {meta['started']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
