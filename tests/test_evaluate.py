"""Evaluation figures on a hand-checked toy case, the baselines, and the written report."""
import json

import numpy as np

from policy_tagger.cli.main import main
from policy_tagger.service.errors import InputError
from policy_tagger.service.labelset import load_label_set
from policy_tagger.training.baselines import keyword_predict
from policy_tagger.training.metrics import scores, tune_thresholds

LABELS = ["a", "b"]


def test_scores_match_a_hand_worked_example():
    gold = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    pred = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    # a: TP1 FP1 FN1 -> P .5 R .5 F1 .5 ; b: TP2 FP0 FN0 -> F1 1 ; micro: TP3 FP1 FN1 -> F1 .75
    result = scores(gold, pred, LABELS)
    assert result["per_label"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert result["per_label"]["b"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert result["macro_f1"] == 0.75 and result["micro_f1"] == 0.75
    assert result["exact_match"] == 0.5  # rows 0 and 3


def test_thresholds_are_tuned_per_label():
    gold = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    probs = np.array([[0.30, 0.9], [0.25, 0.8], [0.10, 0.7], [0.05, 0.95]])
    thresholds = tune_thresholds(gold, probs, LABELS)
    assert 0.1 < thresholds["a"] <= 0.25  # separates 0.25/0.30 from 0.10/0.05
    assert 0.7 < thresholds["b"] <= 0.8


def test_keyword_rules_read_the_label_terms():
    labels = load_label_set()
    predicted = keyword_predict(["落实低保兜底政策", "新建农村公路200公里"], labels)
    ids = [l.id for l in labels]
    assert predicted[0].tolist() == [int(i == "social_security") for i in ids]
    assert predicted[1].sum() == 0


def test_evaluate_writes_report_metrics_chart_and_bad_cases(capsys, tiny_model, tmp_path, write_jsonl):
    rows = [{"text": "全县建成扶贫车间32个，带动就业1200人。", "labels": ["industry"]},
            {"text": "落实低保兜底政策，应保尽保。", "labels": ["social_security"]},
            {"text": "新建农村公路200公里。", "labels": []}]
    data = write_jsonl("gold.jsonl", rows)
    train = write_jsonl("train.jsonl", rows * 2 + [{"text": "实行一月一督查一通报。", "labels": ["supervision"]}])
    report = tmp_path / "report"
    code = main(["evaluate", "--model", str(tiny_model), "--data", str(data), "--report", str(report),
                 "--train-data", str(train)])
    assert code == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["systems"]) == {"model", "tfidf", "keywords"}
    assert metrics["systems"]["keywords"]["per_label"]["industry"]["support"] == 1
    assert metrics["systems"]["keywords"]["exact_match"] == 1.0  # each text holds one of its label's terms
    assert (report / "per_label_f1.png").read_bytes()[:4] == b"\x89PNG"
    assert "| keywords |" in (report / "report.md").read_text()
    bad = [json.loads(l) for l in (report / "bad_cases.jsonl").read_text().splitlines()]
    assert len(bad) == metrics["bad_cases"]
    assert all({"text", "gold", "predicted", "scores"} <= set(b) for b in bad)
    assert "macro-F1" in capsys.readouterr().out


def test_evaluate_rejects_unknown_labels(capsys, tiny_model, tmp_path, write_jsonl):
    data = write_jsonl("gold.jsonl", [{"text": "落实低保。", "labels": ["poverty"]}])
    code = main(["evaluate", "--model", str(tiny_model), "--data", str(data), "--report", str(tmp_path / "r")])
    assert code == InputError.exit_code
    assert f"{data}:1: 'labels' must be a list" in capsys.readouterr().err
