"""Benchmark: plain transformers pipeline vs policy-tagger batch labeling, and the API under concurrent clients.

    python bench/bench.py [--model DIR] [--paragraphs N] [--requests N]

Prints paragraphs/s for both batch paths (whole process, start-up included), their ratio, `label --evidence`, API latency
p50/p95/p99 and throughput at 1, 8 and 32 concurrent single-paragraph clients, and the server's peak memory.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from local_server import EXE, local_server, memory_mb

ROOT = Path(__file__).resolve().parents[1]
PLAIN_PIPELINE = """
import json, sys
from transformers import pipeline
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
classify = pipeline("text-classification", model=sys.argv[1], top_k=None, function_to_apply="sigmoid")
results = classify(texts, truncation=True)
print(len(results), file=sys.stderr)
"""


def corpus_texts(limit: int) -> list[str]:
    texts = []
    for split in ("test", "dev", "train"):
        for line in (ROOT / "labels" / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return list(dict.fromkeys(texts))[:limit]


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def batch_rates(model: Path, texts: list[str], work: Path) -> dict:
    data = work / "paragraphs.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    plain = timed([sys.executable, "-c", PLAIN_PIPELINE, str(model), str(data)])
    ours = timed([str(EXE), "label", str(data), "--model", str(model), "--out",
                  str(work / "out.jsonl"), "--quiet"])
    explained = timed([str(EXE), "label", str(data), "--model", str(model), "--out",
                       str(work / "evidence.jsonl"), "--quiet", "--evidence"])
    return {"paragraphs": len(texts), "plain_pipeline_per_s": round(len(texts) / plain, 1),
            "policy_tagger_per_s": round(len(texts) / ours, 1), "speedup": round(plain / ours, 2),
            "evidence_per_s": round(len(texts) / explained, 1)}


async def load(url: str, texts: list[str], clients: int, requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in queue:
            started = time.perf_counter()
            response = await http.post(url, json={"paragraphs": [texts[i % len(texts)]]})
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "requests": requests, "errors": errors,
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "per_s": round(requests / elapsed, 1)}


def api_figures(model: Path, texts: list[str], requests: int, work: Path) -> dict:
    with local_server(model, work / "server.log") as (server, base):
        idle_mb = round(memory_mb(server.pid, "VmHWM"), 1)
        asyncio.run(load(f"{base}/v1/classify", texts, 4, 40))  # warm-up
        runs = [asyncio.run(load(f"{base}/v1/classify", texts, c, requests)) for c in (1, 8, 32)]
        return {"levels": runs, "server_rss_after_start_mb": idle_mb,
                "server_peak_rss_mb": round(memory_mb(server.pid, "VmHWM"), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "policy-tagger")
    parser.add_argument("--paragraphs", type=int, default=1200)
    parser.add_argument("--requests", type=int, help="requests per concurrency level (default: one per paragraph, "
                        "so the API sees the same paragraphs as batch labeling)")
    args = parser.parse_args()
    texts = corpus_texts(args.paragraphs)
    with tempfile.TemporaryDirectory() as work:
        batch = batch_rates(args.model, texts, Path(work))
        api = api_figures(args.model, texts, args.requests or len(texts), Path(work))
    print(f"{cpu_name()}, {os.cpu_count()} cores")
    print(f"batch labeling, {batch['paragraphs']} paragraphs, whole process incl. start-up:")
    print(f"  plain transformers pipeline  {batch['plain_pipeline_per_s']:7.1f} paragraphs/s")
    print(f"  policy-tagger label          {batch['policy_tagger_per_s']:7.1f} paragraphs/s   ({batch['speedup']}x)")
    print(f"  policy-tagger label --evidence {batch['evidence_per_s']:5.1f} paragraphs/s   "
          f"({batch['evidence_per_s'] / batch['policy_tagger_per_s']:.0%} of the rate without)")
    print("API, single-paragraph POST /v1/classify over loopback:")
    for level in api["levels"]:
        print(f"  {level['clients']:2d} clients: p50 {level['p50_ms']:6.1f} ms  p95 {level['p95_ms']:6.1f} ms  "
              f"p99 {level['p99_ms']:6.1f} ms  {level['per_s']:6.1f} req/s  "
              f"({level['per_s'] / batch['policy_tagger_per_s']:.0%} of batch rate, {level['errors']} errors)")
    print(f"server memory: {api['server_rss_after_start_mb']} MB after start, peak {api['server_peak_rss_mb']} MB resident")
    print(json.dumps({"batch": batch, "api": api}))


if __name__ == "__main__":
    main()
