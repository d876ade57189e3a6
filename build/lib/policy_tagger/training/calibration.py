"""Calibrated scores: one temperature per label fitted on dev (score = sigmoid(logit / T), minimising
binary cross-entropy), then the per-label thresholds tuned on the calibrated scores. Both are fitted on
the scores of the served model, through the same Tagger that the CLI and the API use."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from policy_tagger.service.decision import decide
from policy_tagger.service.modelcard import load_card, write_manifest
from policy_tagger.service.predictor import Tagger
from policy_tagger.training.corpus import label_matrix, read_labelled
from policy_tagger.training.metrics import calibration_figures, scores, tune_thresholds

# A model trained with binary cross-entropy is rarely off by more than a factor of a few; the bounds keep a
# degenerate fit (a barely trained model whose logits hardly vary) from blowing its scores up to 0 and 1.
TEMPERATURE_BOUNDS = (0.2, 5.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _bce(z: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    p = np.clip(sigmoid(z / temperature), 1e-7, 1 - 1e-7)
    return float(-np.mean(gold * np.log(p) + (1 - gold) * np.log(1 - p)))


def fit_temperatures(logits: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """The temperature per label that minimises binary cross-entropy (searched on log T)."""
    low, high = np.log(TEMPERATURE_BOUNDS)

    def fit(z: np.ndarray, y: np.ndarray) -> float:
        found = minimize_scalar(lambda log_t: _bce(z, y, np.exp(log_t)), bounds=(low, high), method="bounded")
        return float(np.exp(found.x))
    return np.array([fit(logits[:, j], gold[:, j]) for j in range(logits.shape[1])])


def calibrate(model_dir: Path, dev_file: Path, backend: str = "auto") -> dict:
    """Fit temperatures and thresholds on dev through a Tagger with this backend and write them into the card.
    Export fits them on the fp32 ONNX file (PyTorch's scores to 1e-5), before int8 is checked against them."""
    tagger = Tagger.load(model_dir, backend=backend)
    card = tagger.card
    rows = read_labelled(dev_file, card.label_ids)
    texts = [r["text"] for r in rows]
    gold = label_matrix(rows, card.label_ids)
    logits = tagger.logits(texts)
    temperatures = fit_temperatures(logits, gold)
    probs = sigmoid(logits / temperatures)
    thresholds = tune_thresholds(gold, probs, card.label_ids)
    card = load_card(model_dir)
    card.temperatures = {label: round(float(t), 4) for label, t in zip(card.label_ids, temperatures)}
    card.thresholds = thresholds
    chosen = decide(probs, np.array([thresholds[label] for label in card.label_ids]), texts)
    card.evaluation = {**card.evaluation, "dev": scores(gold, chosen, card.label_ids),
                       "dev_calibration": {"before": calibration_figures(gold, sigmoid(logits), card.label_ids),
                                           "after": calibration_figures(gold, probs, card.label_ids)}}
    card.save(model_dir)
    write_manifest(model_dir)
    return {"temperatures": card.temperatures, "thresholds": thresholds, "dev": card.evaluation["dev"]}


def dev_figures(model_dir: Path, dev_file: Path) -> dict:
    """Dev scores of the model as served (its chosen backend, calibrated scores, tuned thresholds)."""
    tagger = Tagger.load(model_dir)
    rows = read_labelled(dev_file, tagger.label_ids)
    texts = [r["text"] for r in rows]
    chosen = decide(tagger.probabilities(texts), tagger.thresholds, texts)
    return scores(label_matrix(rows, tagger.label_ids), chosen, tagger.label_ids)
