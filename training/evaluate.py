"""``policy-tagger evaluate``: the model and both baselines on one labelled file, written up as a report."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from service.predictor import Tagger  # noqa: E402
from training.baselines import keyword_predict, tfidf_predict  # noqa: E402
from training.corpus import file_sha256, label_matrix, read_labelled  # noqa: E402
from training.metrics import scores  # noqa: E402

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
    lines += ["", "![per-label F1](per_label_f1.png)", "",
              f"Paragraphs the model got wrong: `bad_cases.jsonl` ({meta['bad_cases']} rows).", ""]
    return "\n".join(lines)


def evaluate(model_dir: Path, data_file: Path, report_dir: Path, train_file: Path | None = None) -> str:
    """Score the model and the baselines on ``data_file``; write the report; return a one-screen summary."""
    tagger = Tagger(model_dir)
    label_ids, labels = tagger.label_ids, tagger.card.labels
    rows = read_labelled(data_file, label_ids)
    texts = [r["text"] for r in rows]
    gold = label_matrix(rows, label_ids)
    probs = tagger.probabilities(texts)
    predicted = (probs >= tagger.thresholds).astype(int)

    systems = {"model": predicted, "keywords": keyword_predict(texts, labels)}
    if train_file and Path(train_file).is_file():
        train_rows = read_labelled(train_file, label_ids)
        systems["tfidf"] = tfidf_predict([r["text"] for r in train_rows], label_matrix(train_rows, label_ids), texts)
    results = {name: scores(gold, systems[name], label_ids) for name in SYSTEMS if name in systems}

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    wrong = np.nonzero((predicted != gold).any(axis=1))[0]
    with open(report_dir / "bad_cases.jsonl", "w", encoding="utf-8") as out:
        for i in wrong:
            out.write(json.dumps({"id": rows[i].get("id", int(i)), "text": texts[i], "gold": rows[i]["labels"],
                                  "predicted": [l for l, p in zip(label_ids, predicted[i]) if p],
                                  "scores": {l: round(float(p), 4) for l, p in zip(label_ids, probs[i])}},
                                 ensure_ascii=False) + "\n")
    meta = {"model": tagger.model_tag, "data": str(data_file), "data_sha256": file_sha256(data_file),
            "paragraphs": len(rows), "bad_cases": int(len(wrong)), "thresholds": tagger.card.thresholds}
    (report_dir / "metrics.json").write_text(json.dumps({**meta, "systems": results}, indent=2), encoding="utf-8")
    per_label_chart(results, label_ids, report_dir / "per_label_f1.png")
    (report_dir / "report.md").write_text(markdown_report(results, label_ids, meta), encoding="utf-8")
    summary = [f"{name:9s} macro-F1 {r['macro_f1']:.4f}  micro-F1 {r['micro_f1']:.4f}  exact {r['exact_match']:.4f}"
               for name, r in results.items()]
    return "\n".join([f"{tagger.model_tag} on {data_file} ({len(rows)} paragraphs)", *summary, f"report: {report_dir}"])
