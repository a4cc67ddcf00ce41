"""Turn a run's raw results into medians, ratios and pass/fail against issue 9's targets; write JSON, Markdown
and (through the bench-only venv's matplotlib) a PNG chart into bench/results/."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from tools import TOOLS_VENV

__all__ = ["RESULTS", "median_of", "targets", "write_results"]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LABELS = {"direct": "direct", "nginx": "nginx proxy_pass", "litellm": "LiteLLM proxy", "model-runtime": "Model Runtime"}
US = "model-runtime"


def median_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    """The median over runs of the value at ``path`` (e.g. ``"latency_ms", "p50"``); None without runs."""
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values) if values else None


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "—" if value is None else format(value, fmt)


def _ratio(ours: float | None, theirs: float | None, fmt: str = ".1f") -> str:
    return "—" if not ours or not theirs else f"{ours / theirs:{fmt}}x"


def _names(results: dict[str, Any]) -> list[str]:
    return [n for n in LABELS if results["systems"].get(n, {}).get("available")]


def saturation(results: dict[str, Any], name: str) -> tuple[float | None, str]:
    """Chat throughput at the best concurrency level (median of the repetitions), and that level."""
    best: tuple[float | None, str] = (None, "")
    for level, runs in results["throughput"].get("chat", {}).items():
        rps = median_of(runs.get(name, []), "rps")
        if rps is not None and (best[0] is None or rps > best[0]):
            best = (rps, level)
    return best


def _fixed(results: dict[str, Any], name: str, pct: str) -> float | None:
    return median_of(results["fixed_rate"].get("runs", {}).get(name, []), "latency_ms", pct)


def _added(results: dict[str, Any], name: str, pct: str) -> float | None:
    ours, floor = _fixed(results, name, pct), _fixed(results, "direct", pct)
    return None if ours is None or floor is None else ours - floor


def _stream(results: dict[str, Any], scenario: str, name: str, *path: str) -> float | None:
    return median_of(results["streams"].get(scenario, {}).get(name, []), *path)


def _stream_added(results: dict[str, Any], scenario: str, name: str, *path: str) -> float | None:
    ours, floor = _stream(results, scenario, name, *path), _stream(results, scenario, "direct", *path)
    return None if ours is None or floor is None else ours - floor


def _soak() -> dict[str, Any] | None:
    path = RESULTS / "soak-latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 9: what was measured, the goal, pass/fail (None: not measured) and by how much."""
    ours, _ = saturation(results, US)
    litellm, _ = saturation(results, "litellm")
    nginx, _ = saturation(results, "nginx")
    ready = results["systems"].get(US, {}).get("ready_s") or []
    peak = results["systems"].get(US, {}).get("peak", {}).get("max_rss_mb")
    soak = _soak()
    growth = soak["growth_pct"] if soak else None

    def row(name: str, measured: float | None, goal: float, higher: bool, unit: str, fmt: str) -> dict[str, Any]:
        if measured is None:
            return {"target": name, "measured": None, "goal": goal, "unit": unit, "pass": None, "by": None}
        ok = measured >= goal if higher else measured <= goal
        return {"target": name, "measured": round(measured, 4), "goal": goal, "unit": unit, "pass": ok,
                "by": None if ok else f"{abs(measured - goal):{fmt}} {unit} {'short' if higher else 'over'}"}

    return [
        row("throughput vs LiteLLM proxy", ours / litellm if ours and litellm else None, 15, True, "x", ".1f"),
        row("throughput vs nginx proxy_pass", ours / nginx * 100 if ours and nginx else None, 25, True, "%", ".1f"),
        row("p50 added latency at half saturation", _added(results, US, "p50"), 1.0, False, "ms", ".3f"),
        row("p99 added latency at half saturation", _added(results, US, "p99"), 5.0, False, "ms", ".3f"),
        row("stream first-chunk overhead (p50)", _stream_added(results, "stream", US, "ttfb_ms", "p50"), 1.0, False,
            "ms", ".3f"),
        row("RSS per worker under load", peak, 80.0, False, "MiB", ".1f"),
        row("RSS growth over the soak", growth, 5.0, False, "%", ".1f"),
        row("start to /health/ready 200", statistics.median(ready) if ready else None, 1.0, False, "s", ".2f"),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def _throughput_tables(results: dict[str, Any], names: list[str]) -> list[str]:
    rps_rows, lat_rows = [], []
    for scenario, levels in results["throughput"].items():
        for level, runs in levels.items():
            cells, lats = [], []
            for name in names:
                rps = median_of(runs.get(name, []), "rps")
                errors = sum(r["errors"] for r in runs.get(name, []))
                cells.append(_num(rps) + (f" ({errors} errors)" if errors else ""))
                p50, p99 = (median_of(runs.get(name, []), "latency_ms", p) for p in ("p50", "p99"))
                lats.append(f"{_num(p50, '.2f')} / {_num(p99, '.2f')}")
            ours = median_of(runs.get(US, []), "rps")
            ratios = [_ratio(ours, median_of(runs.get(o, []), "rps"), f) for o, f in (("litellm", ".1f"),
                                                                                     ("nginx", ".2f"))]
            rps_rows.append([scenario, level, *cells, *ratios])
            lat_rows.append([scenario, level, *lats])
    sat = {n: saturation(results, n) for n in names}
    ours = sat.get(US, (None, ""))[0]
    rps_rows.append(["**chat, saturation**", "best", *(f"**{_num(sat[n][0])}** (c={sat[n][1]})" for n in names),
                     _ratio(ours, sat.get("litellm", (None, ""))[0]),
                     _ratio(ours, sat.get("nginx", (None, ""))[0], ".2f")])
    head = ["scenario", "conns", *(LABELS[n] for n in names)]
    return (["## Throughput (req/s, wrk, median of the repetitions)", "",
             *_table([*head, "us/LiteLLM", "us/nginx"], rps_rows),
             "## Latency under that load (p50 / p99 ms, wrk)", "", *_table(head, lat_rows)])


def _latency_tables(results: dict[str, Any], names: list[str]) -> list[str]:
    fixed = results["fixed_rate"]
    rows = []
    for name in names:
        runs = fixed.get("runs", {}).get(name, [])
        if not runs:
            rows.append([LABELS[name], "—", "—", "—", "—", "—", "—", "—"])
            continue
        rate = runs[0]["target_rate"]
        own = "" if rate == fixed["rate"] else " (its own half saturation)"
        failed = sum(r["errors"] + r["unfinished"] for r in runs)
        rows.append([LABELS[name], f"{rate:,.0f}{own}", _num(median_of(runs, "achieved_rate")),
                     _num(_fixed(results, name, "p50"), ".3f"), _num(_fixed(results, name, "p99"), ".3f"),
                     _num(_added(results, name, "p50"), "+.3f"), _num(_added(results, name, "p99"), "+.3f"),
                     str(failed)])
    out = [f"## Added latency at a fixed rate of {fixed.get('rate', 0):,.0f} req/s (open loop, chat; "
           f"{fixed.get('basis', '')})", "",
           *_table(["system", "rate", "achieved", "p50 ms", "p99 ms", "added p50", "added p99", "failed"], rows)]
    stream_rows = []
    for name in names:
        def s(scenario: str, *path: str, _name: str = name) -> float | None:
            return _stream(results, scenario, _name, *path)

        def a(scenario: str, *path: str, _name: str = name) -> float | None:
            return _stream_added(results, scenario, _name, *path)

        stream_rows.append([
            LABELS[name], _num(s("stream", "ttfb_ms", "p50"), ".3f"), _num(a("stream", "ttfb_ms", "p50"), "+.3f"),
            _num(s("stream", "ttfb_ms", "p99"), ".3f"), _num(a("stream", "ttfb_ms", "p99"), "+.3f"),
            f"{_num(s('stream-paced', 'gap_ms', 'p50'), '.3f')} / {_num(s('stream-paced', 'gap_ms', 'p99'), '.3f')}",
            f"{_num(a('stream-paced', 'gap_ms', 'p50'), '+.3f')} / {_num(a('stream-paced', 'gap_ms', 'p99'), '+.3f')}",
            _num(s("stream-paced", "ttfb_ms", "p50"), ".2f"), _num(s("stream", "events_per_stream"), ".0f")])
    out += ["## Streams (50 chunks + [DONE], one at a time)", "",
            "First chunk: instant upstream (the whole stream in one write). Inter-chunk gap: paced upstream (first "
            "chunk after 50 ms, then one every 2 ms), gaps as the client sees them.", "",
            *_table(["system", "first chunk p50 ms", "added", "first chunk p99 ms", "added",
                     "gap p50 / p99 ms (paced)", "added gap p50 / p99", "paced first chunk ms", "events"],
                    stream_rows)]
    return out


def _memory_table(results: dict[str, Any], names: list[str]) -> list[str]:
    rows = []
    for name in names:
        info = results["systems"][name]
        ready = info.get("ready_s") or []
        rows.append([LABELS[name], str(info.get("workers", "")), str(info["idle"]["processes"]),
                     " / ".join(f"{r:.2f}" for r in ready) or "—",
                     _num(info["idle"]["max_rss_mb"], ".1f"), _num(info["idle"]["total_pss_mb"], ".1f"),
                     _num(info["peak"]["max_rss_mb"], ".1f"), _num(info["peak"]["total_pss_mb"], ".1f"),
                     _num(info.get("after_load", {}).get("max_rss_mb"), ".1f")])
    out = ["## Memory (MiB, /proc) and start-up", "",
           "RSS is the largest process of the system's tree (a worker where there are workers); PSS is the whole "
           "tree with shared pages counted once.", "",
           *_table(["system", "workers", "processes", "start → ready s (each start)", "idle RSS", "idle PSS (tree)",
                    "peak RSS under load", "peak PSS (tree)", "RSS after load"], rows)]
    soak = _soak()
    if soak:
        out += [f"Soak (`make bench-soak`, commit {soak['meta']['commit'][:12]}, {soak['meta']['started']}): "
                f"{soak['minutes']:g} min of {soak['load']}; worker RSS {soak['start_rss_mb']:.1f} → "
                f"{soak['end_rss_mb']:.1f} MiB ({soak['growth_pct']:+.1f}%), {soak['requests']:,} requests.", ""]
    else:
        out += ["Soak: not run yet (`make bench-soak`).", ""]
    return out


def markdown(results: dict[str, Any], chart: str | None) -> str:
    """The whole report."""
    meta = results["meta"]
    names = _names(results)
    lines = [f"# Model Runtime benchmark — {meta['started']}", "",
             f"- commit `{meta['commit']}`, {meta['mode']} run, {meta['elapsed_s']} s",
             f"- machine: {meta['cpus']} cores, shared and noisy: load average {meta['load_at_start']} at start, "
             f"{meta['load_at_end']} at end",
             f"- workers: {meta['workers']} for nginx, LiteLLM and Model Runtime; the fake upstream is one uvloop "
             f"process; everything on the same cores",
             f"- {meta['wrk']}, {meta['wrk_threads']} threads, {meta['duration_s']:g} s per run; concurrency "
             + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in meta["levels"].items() if v),
             f"- systems interleaved (A B C D) x{meta['reps']}, medians; {meta['nginx']}; LiteLLM {meta['litellm']} "
             f"(no database); Python {meta['python']}", ""]
    for name, info in results["systems"].items():
        if not info.get("available"):
            lines += [f"- **{LABELS.get(name, name)} unavailable**: {info['reason'][:400]}"]
    for item in results.get("left_out", []):
        lines += [f"- left out: {LABELS.get(item['system'], item['system'])} / {item['scenario']}: "
                  f"{item['reason'][:300]}"]
    lines += ["", "## Targets (issue 9)", ""]
    rows = []
    for t in targets(results):
        verdict = "not measured" if t["pass"] is None else "**pass**" if t["pass"] else f"**FAIL** ({t['by']})"
        measured = "—" if t["measured"] is None else f"{t['measured']:,.3g} {t['unit']}"
        sign = ">=" if t["target"].startswith("throughput") else "<="
        rows.append([t["target"], measured, f"{sign} {t['goal']:g} {t['unit']}", verdict])
    lines += _table(["target", "measured", "goal", "result"], rows)
    if chart:
        lines += [f"![chart]({chart})", ""]
    lines += _throughput_tables(results, names)
    lines += _latency_tables(results, names)
    lines += _memory_table(results, names)
    return "\n".join(lines)


def _chart(json_path: Path, png_path: Path) -> str | None:
    python = TOOLS_VENV / "bin" / "python"
    done = subprocess.run([str(python), str(HERE / "plot.py"), str(json_path), str(png_path)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"plot.py failed: {done.stderr[-500:]}"


def write_results(results: dict[str, Any], chart_reason: str | None) -> tuple[Path, Path, Path | None]:
    """``<stamp>.json/.md/.png`` and ``latest.*`` (``soak-`` prefixed for a soak) in bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    soak = results["meta"]["mode"] == "soak"
    prefix = "soak-" if soak else ""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = RESULTS / f"{prefix}{stamp}.json"
    md_path = RESULTS / f"{prefix}{stamp}.md"
    png_path: Path | None = None
    if not soak:
        results["targets"] = targets(results)
    json_path.write_text(json.dumps(results, indent=1))
    if soak:
        from soak import soak_markdown

        text = soak_markdown(results)
    else:
        png_path = RESULTS / f"{stamp}.png"
        if chart_reason is None:
            chart_reason = _chart(json_path, png_path)
        if chart_reason is not None:
            png_path = None
            results["meta"]["chart"] = f"no chart: {chart_reason}"
            json_path.write_text(json.dumps(results, indent=1))
        text = markdown(results, f"{stamp}.png" if png_path else None)
        if chart_reason:
            text += f"\n(no chart: {chart_reason})\n"
    md_path.write_text(text)
    for path in (json_path, md_path, png_path):
        if path is not None:
            shutil.copyfile(path, RESULTS / f"{prefix}latest{path.suffix}")
    if png_path is not None:  # latest.md points at latest.png
        (RESULTS / f"{prefix}latest.md").write_text(text.replace(f"]({stamp}.png)", "](latest.png)"))
    return json_path, md_path, png_path
