"""A first rough benchmark: non-streaming chat through the gateway vs straight to a cheap fake upstream.

Runs wrk (Debian package ``wrk``) against both, interleaved (direct, gateway, direct, gateway) and reports the
median of the two runs: throughput at 32 connections, p50/p99 latency at 1 connection, and the RSS of an idle and
a loaded gateway worker. The full harness (nginx, LiteLLM, streams, soak) is its own issue.

    python bench/quick.py [--duration 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.gateway import GatewayProcess, free_port  # noqa: E402

PROFILE = """
server: {api_keys: ["bench-key"]}
providers:
  - name: bench
    provider: openai_compatible
    credentials: {base_url: "http://127.0.0.1:%d/v1"}
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, connections: int, duration: int) -> dict[str, float]:
    """One wrk run: requests/s and latency percentiles in ms."""
    out = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency",
         "-s", str(HERE / "post.lua"), url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", out, re.M):
        result[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses\n{out}")
    return result


def rss_mb(pid: int) -> float:
    """Resident memory of one process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(pid: int) -> list[int]:
    """uvicorn serves in-process with one worker and in child processes with more."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [int(c) for c in children if "multiprocessing" not in Path(f"/proc/{c}/cmdline").read_text()]
    return workers or [pid]


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), "--port", str(port)])
    try:
        time.sleep(0.5)
        direct_url = f"http://127.0.0.1:{port}/v1/chat/completions"
        started = time.monotonic()
        with GatewayProcess(PROFILE % port, workers=args.workers) as gw:
            ready_s = time.monotonic() - started
            assert gw._process is not None
            pids = worker_pids(gw._process.pid)
            idle = max(rss_mb(p) for p in pids)
            gw_url = f"{gw.base_url}/chat/completions"
            assert httpx.post(gw_url, headers={"authorization": "Bearer bench-key"}, json={
                "model": "bench/bench-model", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("direct32", "gw32", "direct1", "gw1")}
            for _ in range(2):
                runs["direct32"].append(wrk(direct_url, 32, args.duration))
                runs["gw32"].append(wrk(gw_url, 32, args.duration))
                runs["direct1"].append(wrk(direct_url, 1, args.duration))
                runs["gw1"].append(wrk(gw_url, 1, args.duration))
            loaded = max(rss_mb(p) for p in pids)
    finally:
        upstream.terminate()
        upstream.wait()
    m = {k: median(v) for k, v in runs.items()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    report = {
        "commit": commit, "workers": args.workers, "duration_s": args.duration, "medians": m,
        "idle_rss_mb": round(idle, 1), "loaded_rss_mb": round(loaded, 1), "start_to_ready_s": round(ready_s, 2),
    }
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"quick-{commit}-w{args.workers}.json").write_text(json.dumps(report, indent=2))
    print(f"commit {commit}, {args.workers} gateway worker(s), wrk {args.duration}s x2 interleaved, medians\n")
    print("| | direct | gateway | gateway/direct |\n|---|---|---|---|")
    print(f"| req/s at 32 connections | {m['direct32']['rps']:.0f} | {m['gw32']['rps']:.0f} | "
          f"{m['gw32']['rps'] / m['direct32']['rps']:.1%} |")
    for pct in ("p50", "p99"):
        added = m["gw1"][f"{pct}_ms"] - m["direct1"][f"{pct}_ms"]
        print(f"| {pct} latency at 1 connection (ms) | {m['direct1'][f'{pct}_ms']:.3f} | "
              f"{m['gw1'][f'{pct}_ms']:.3f} | +{added:.3f} ms |")
    print(f"| req/s at 1 connection | {m['direct1']['rps']:.0f} | {m['gw1']['rps']:.0f} | |")
    print(f"\nworker RSS: idle {idle:.1f} MB, after load {loaded:.1f} MB; start to ready {ready_s:.2f} s "
          f"(includes the harness's 50 ms polling)")


if __name__ == "__main__":
    main()
