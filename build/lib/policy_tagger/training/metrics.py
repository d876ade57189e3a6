"""Multi-label scores, calibration figures (sklearn.metrics) and per-label threshold tuning."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, precision_recall_fscore_support

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def scores(gold: np.ndarray, pred: np.ndarray, label_ids: list[str]) -> dict:
    """Per-label precision/recall/F1/support, micro and macro F1, exact-match ratio."""
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, average=None, zero_division=0)
    return {
        "per_label": {label: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                              "f1": round(float(f), 4), "support": int(s)}
                      for label, p, r, f, s in zip(label_ids, precision, recall, f1, support)},
        "micro_f1": round(float(f1_score(gold, pred, average="micro", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4),
        "exact_match": round(float(accuracy_score(gold, pred)), 4),
        "paragraphs": int(len(gold)),
    }


def tune_thresholds(gold: np.ndarray, probs: np.ndarray, label_ids: list[str]) -> dict[str, float]:
    """The threshold per label that maximises its F1 on these rows; ties go to the one nearest 0.5."""
    thresholds = {}
    for j, label in enumerate(label_ids):
        if gold[:, j].sum() == 0:
            thresholds[label] = 0.5
            continue
        f1s = [f1_score(gold[:, j], probs[:, j] >= t, zero_division=0) for t in THRESHOLD_GRID]
        best = max(range(len(THRESHOLD_GRID)), key=lambda i: (round(f1s[i], 6), -abs(THRESHOLD_GRID[i] - 0.5)))
        thresholds[label] = float(THRESHOLD_GRID[best])
    return thresholds


CALIBRATION_BINS = 10


def expected_calibration_error(gold: np.ndarray, probs: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by the bins' sizes."""
    which = np.minimum((probs * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(gold[inside].mean() - probs[inside].mean())
    return float(error)


def calibration_figures(gold: np.ndarray, probs: np.ndarray, label_ids: list[str]) -> dict:
    """Per label and macro-averaged: expected calibration error (10 bins), Brier score, log-loss."""
    per_label = {}
    for j, label in enumerate(label_ids):
        p = np.clip(probs[:, j], 1e-7, 1 - 1e-7)
        per_label[label] = {"ece": round(expected_calibration_error(gold[:, j], p), 4),
                            "brier": round(float(brier_score_loss(gold[:, j], p)), 4),
                            "log_loss": round(float(log_loss(gold[:, j], p, labels=[0, 1])), 4)}
    macro = {k: round(float(np.mean([v[k] for v in per_label.values()])), 4) for k in ("ece", "brier", "log_loss")}
    return {"per_label": per_label, "macro": macro}
