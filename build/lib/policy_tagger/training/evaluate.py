"""``policy-tagger evaluate``: the model and both baselines on one labelled file, written up as a report."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from policy_tagger.service.decision import decide  # noqa: E402
from policy_tagger.service.modelcard import sha256_file  # noqa: E402
from policy_tagger.service.paths import DATA_DIR  # noqa: E402
from policy_tagger.service.predictor import Tagger  # noqa: E402
from policy_tagger.training.baselines import keyword_predict, tfidf_predict  # noqa: E402
from policy_tagger.training.calibration import sigmoid  # noqa: E402
from policy_tagger.training.corpus import label_matrix, read_labelled  # noqa: E402
from policy_tagger.training.metrics import CALIBRATION_BINS, calibration_figures, scores  # noqa: E402

SYSTEMS = ("model", "tfidf", "keywords")


def per_label_chart(results: dict, label_ids: list[str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(results)
    x = np.arange(len(label_ids))
    for k, (system, figures) in enumerate(results.items()):
        ax.bar(x + k * width, [figures["per_label"][label]["f1"] for label in label_ids], width, label=system)
    ax.set_xticks(x + width * (len(results) - 1) / 2, label_ids)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title("Per-label F1 by system")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown_report(results: dict, label_ids: list[str], meta: dict) -> str:
    lines = [f"# Evaluation of {meta['model']}", "",
             f"Data: `{meta['data']}` ({meta['paragraphs']} paragraphs, sha256 {meta['data_sha256'][:16]}…)", "",
             "| system | macro-F1 | micro-F1 | exact match |", "|---|---|---|---|"]
    lines += [f"| {s} | {r['macro_f1']:.3f} | {r['micro_f1']:.3f} | {r['exact_match']:.3f} |" for s, r in results.items()]
    lines += ["", "## Per label (precision / recall / F1)", "",
              "| label | support | " + " | ".join(results) + " |", "|---|---|" + "---|" * len(results)]
    for label in label_ids:
        cells = [f"{r['per_label'][label]['precision']:.2f} / {r['per_label'][label]['recall']:.2f} / "
                 f"**{r['per_label'][label]['f1']:.2f}**" for r in results.values()]
        lines.append(f"| {label} | {results['model']['per_label'][label]['support']} | " + " | ".join(cells) + " |")
    lines += ["", "![per-label F1](per_label_f1.png)", ""]
    if meta.get("tfidf_skipped"):
        lines += [f"TF-IDF baseline not scored: {meta['tfidf_skipped']}", ""]
    lines += calibration_lines(meta["calibration"], label_ids)
    lines += [f"Paragraphs the model got wrong: `bad_cases.jsonl` ({meta['bad_cases']} rows).", ""]
    return "\n".join(lines)


def calibration_lines(calibration: dict, label_ids: list[str]) -> list[str]:
    before, after = calibration["before"], calibration["after"]
    lines = ["## Calibration (scores as probabilities)", "",
             f"Before: sigmoid of the raw logit; after: sigmoid(logit / T) with the model's per-label temperatures. "
             f"ECE over {CALIBRATION_BINS} equal-width bins.", "",
             "| label | ECE before | ECE after | Brier before | Brier after | log-loss before | log-loss after |",
             "|---|---|---|---|---|---|---|"]
    for label in [*label_ids, "macro"]:
        b = before["macro"] if label == "macro" else before["per_label"][label]
        a = after["macro"] if label == "macro" else after["per_label"][label]
        lines.append(f"| {label} | {b['ece']:.3f} | {a['ece']:.3f} | {b['brier']:.3f} | {a['brier']:.3f} | "
                     f"{b['log_loss']:.3f} | {a['log_loss']:.3f} |")
    return [*lines, "", "![reliability](reliability.png)", ""]


def reliability_chart(gold: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, label_ids: list[str],
                      path: Path) -> None:
    """One panel per label: observed rate against mean score per bin, before and after calibration."""
    fig, axes = plt.subplots(2, (len(label_ids) + 1) // 2, figsize=(12, 7), squeeze=False)
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for j, (label, ax) in enumerate(zip(label_ids, axes.flat)):
        for probs, name in ((raw, "before"), (calibrated, "after")):
            which = np.minimum((probs[:, j] * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
            used = [b for b in range(CALIBRATION_BINS) if (which == b).any()]
            ax.plot([probs[which == b, j].mean() for b in used], [gold[which == b, j].mean() for b in used],
                    marker="o", label=name)
        ax.plot(edges, edges, color="grey", linestyle=":", linewidth=1)
        ax.set_title(label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean score")
        ax.set_ylabel("observed rate")
    for ax in list(axes.flat)[len(label_ids):]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(tagger: Tagger, data_file: Path, report_dir: Path, train_file: Path | None = None) -> str:
    """Score the model and the baselines on ``data_file``; write the report; return a one-screen summary."""
    label_ids, labels = tagger.label_ids, tagger.card.labels
    rows = read_labelled(data_file, label_ids)
    texts = [r["text"] for r in rows]
    gold = label_matrix(rows, label_ids)
    logits = tagger.logits(texts)
    probs = sigmoid(logits / tagger.temperatures)
    predicted = decide(probs, tagger.thresholds, texts).astype(int)

    systems = {"model": predicted, "keywords": keyword_predict(texts, labels)}
    train_file = train_file or (DATA_DIR / "train.jsonl" if DATA_DIR else None)
    skipped = None
    if train_file and Path(train_file).is_file():
        train_rows = read_labelled(train_file, label_ids)
        systems["tfidf"] = tfidf_predict([r["text"] for r in train_rows], label_matrix(train_rows, label_ids), texts)
    else:
        skipped = "no training data for it (pass --train-data FILE)"
    results = {name: scores(gold, systems[name], label_ids) for name in SYSTEMS if name in systems}

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    wrong = np.nonzero((predicted != gold).any(axis=1))[0]
    with open(report_dir / "bad_cases.jsonl", "w", encoding="utf-8") as out:
        for i in wrong:
            out.write(json.dumps({"id": rows[i].get("id", int(i)), "text": texts[i], "gold": rows[i]["labels"],
                                  "predicted": [label for label, p in zip(label_ids, predicted[i]) if p],
                                  "scores": {label: round(float(p), 4) for label, p in zip(label_ids, probs[i])}},
                                 ensure_ascii=False) + "\n")
    calibration = {"before": calibration_figures(gold, sigmoid(logits), label_ids),
                   "after": calibration_figures(gold, probs, label_ids)}
    meta = {"model": tagger.model_tag, "data": str(data_file), "data_sha256": sha256_file(data_file),
            "paragraphs": len(rows), "bad_cases": int(len(wrong)), "thresholds": tagger.card.thresholds,
            "temperatures": tagger.card.temperatures, "tfidf_skipped": skipped, "calibration": calibration}
    (report_dir / "metrics.json").write_text(json.dumps({**meta, "systems": results}, indent=2), encoding="utf-8")
    per_label_chart(results, label_ids, report_dir / "per_label_f1.png")
    reliability_chart(gold, sigmoid(logits), probs, label_ids, report_dir / "reliability.png")
    (report_dir / "report.md").write_text(markdown_report(results, label_ids, meta), encoding="utf-8")
    summary = [f"{name:9s} macro-F1 {r['macro_f1']:.4f}  micro-F1 {r['micro_f1']:.4f}  exact {r['exact_match']:.4f}"
               for name, r in results.items()]
    per_label = "  ".join(f"{label} {results['model']['per_label'][label]['f1']:.2f}" for label in label_ids)
    ece = f"ECE {calibration['before']['macro']['ece']:.3f} -> {calibration['after']['macro']['ece']:.3f} (calibrated)"
    notes = [f"TF-IDF baseline not scored: {skipped}"] if skipped else []
    return "\n".join([f"{tagger.model_tag} on {data_file} ({len(rows)} paragraphs)", *summary,
                      f"model per label F1: {per_label}", ece, *notes, f"report: {report_dir}"])
