"""How many encoder layers to keep: dev accuracy, training time and CPU inference speed per layer count.

    python bench/layers.py [--layers 4 6 8 12] [--epochs 8]

Each count is fine-tuned with the default settings (dev only; the test split is not touched).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 6, 8, 12])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    from policy_tagger.service.predictor import Tagger

    dev_texts = [json.loads(l)["text"] for l in (ROOT / "labels/data/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    print("| layers | dev macro-F1 | dev micro-F1 | best epoch | training s | inference paragraphs/s (int8 ONNX) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for layers in args.layers:
            out = Path(work) / f"L{layers}"
            subprocess.run([sys.executable, "-m", "policy_tagger.cli", "train", "--layers", str(layers),
                            "--epochs", str(args.epochs), "--out", str(out)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            card = json.loads((out / "policy_tagger.json").read_text())
            tagger = Tagger.load(out)
            started = time.perf_counter()
            tagger.probabilities(dev_texts)
            speed = len(dev_texts) / (time.perf_counter() - started)
            dev = card["evaluation"]["dev"]
            print(f"| {layers} | {dev['macro_f1']:.4f} | {dev['micro_f1']:.4f} | {card['training']['best_epoch']} | "
                  f"{card['training']['seconds']:.0f} | {speed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
