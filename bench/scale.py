"""Scale benchmark: `policy-tagger label` on 10,000 and 200,000 generated rows, and Ray beside the local engine.

    python bench/scale.py [--model DIR] [--sizes 10000 200000] [--ray-rows N] [--workers N]

Rows repeat the corpus paragraphs (labels/data/*.jsonl) with distinct ids. Each run is a fresh child process;
its peak resident memory comes from the kernel (wait4's ru_maxrss), its rate includes start-up, and every
input row must be in its output. The memory
rule of issue 11: the peak at the largest size is within 100 MB of the peak at the smallest. With --ray-rows
(default: the smallest size) the same rows are also labelled with --engine ray on --workers actors; Ray's memory
is spread over its own processes, so only its rate is shown.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "policy-tagger"
MEMORY_RULE_MB = 100


def corpus_texts() -> list[str]:
    texts = []
    for split in ("train", "dev", "test"):
        for line in (ROOT / "labels" / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return list(dict.fromkeys(texts))


def write_rows(path: Path, n: int, texts: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for i, text in zip(range(n), itertools.cycle(texts)):
            out.write(json.dumps({"id": f"r{i:07d}", "text": text}, ensure_ascii=False) + "\n")
    return path


def measured(command: list[str]) -> dict:
    """Wall seconds and peak RSS (MB) of one child process, from the kernel's accounting of that child."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        sys.exit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr.decode(errors='replace')[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024}  # ru_maxrss is in KiB on Linux


def count_rows(out: Path) -> int:
    """Rows written: the output file's lines, or those of every part in a Ray output folder."""
    files = sorted(out.glob("part-*.jsonl")) if out.is_dir() else [out]
    total = 0
    for file in files:
        with open(file, "rb") as rows:
            total += sum(1 for _ in rows)
    return total


def checked(run: dict, out: Path, n: int) -> dict:
    written = count_rows(out)
    if written != n:
        sys.exit(f"{out}: {written} rows written for {n} input rows")
    shutil.rmtree(out) if out.is_dir() else out.unlink()
    return run


def label_command(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [str(EXE), "label", str(data), "--model", str(model), "--out", str(out), "--quiet", *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "policy-tagger")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--ray-rows", type=int, help="rows for local vs Ray (default: the smallest size; 0: skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Ray actors (default: the cores)")
    args = parser.parse_args()
    texts = corpus_texts()
    results = []
    with tempfile.TemporaryDirectory(prefix="policy-tagger-scale-") as work:
        for n in sorted(args.sizes):
            data = write_rows(Path(work) / f"rows-{n}.jsonl", n, texts)
            out = Path(work) / f"out-{n}.jsonl"
            run = checked(measured(label_command(args.model, data, out)), out, n)
            results.append({"engine": "local", "rows": n, **run, "per_s": n / run["seconds"]})
            data.unlink()
        ray_rows = min(args.sizes) if args.ray_rows is None else args.ray_rows
        if ray_rows:
            data = write_rows(Path(work) / "ray-rows.jsonl", ray_rows, texts)
            if ray_rows not in args.sizes:
                out = Path(work) / "local.jsonl"
                local = checked(measured(label_command(args.model, data, out)), out, ray_rows)
                results.append({"engine": "local", "rows": ray_rows, **local, "per_s": ray_rows / local["seconds"]})
            out = Path(work) / "ray-out"
            ray = checked(measured(label_command(args.model, data, out, "--engine", "ray", "--workers",
                                                 str(args.workers))), out, ray_rows)
            results.append({"engine": f"ray ({args.workers} actors)", "rows": ray_rows, **ray,
                            "per_s": ray_rows / ray["seconds"], "peak_rss_mb": None})
    report(results, sorted(args.sizes))


def report(results: list[dict], sizes: list[int]) -> None:
    print(f"{os.cpu_count()} cores; whole process per run, start-up included")
    print(f"{'engine':<18} {'rows':>8} {'seconds':>9} {'paragraphs/s':>13} {'peak RSS MB':>12}")
    for r in results:
        rss = f"{r['peak_rss_mb']:12.1f}" if r["peak_rss_mb"] is not None else f"{'(driver only)':>12}"
        print(f"{r['engine']:<18} {r['rows']:>8} {r['seconds']:9.1f} {r['per_s']:13.1f} {rss}")
    local = {r["rows"]: r for r in results if r["engine"] == "local"}
    if len(sizes) > 1:
        growth = local[sizes[-1]]["peak_rss_mb"] - local[sizes[0]]["peak_rss_mb"]
        verdict = "within" if growth <= MEMORY_RULE_MB else "NOT within"
        print(f"peak RSS at {sizes[-1]} rows is {growth:+.1f} MB from {sizes[0]} rows: {verdict} {MEMORY_RULE_MB} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
