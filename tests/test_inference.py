"""The fast path: ONNX export parity with PyTorch, backends, and long paragraphs in windows."""
import numpy as np
import pytest

from policy_tagger.service.errors import UsageError
from policy_tagger.service.modelcard import load_card
from policy_tagger.service.paths import DATA_DIR
from policy_tagger.service.predictor import ONNX_FP32, ONNX_INT8, Tagger
from policy_tagger.training.export import int8_layer_counts, parity, upper_layers

TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "落实低保兜底政策，应保尽保。", "新建农村公路200公里。"]


def test_export_writes_both_files_and_records_the_choice(tiny_model):
    assert (tiny_model / ONNX_FP32).is_file() and (tiny_model / ONNX_INT8).is_file()
    inference = load_card(tiny_model).inference
    check = inference["int8_parity"]
    assert inference["onnx"] == (ONNX_INT8 if check["passes"] else ONNX_FP32)
    assert inference["int8_layers"] == (check["int8_layers"] if check["passes"] else 0)


def test_export_serves_the_most_int8_layers_that_hold_parity(tiny_model):
    tried = load_card(tiny_model).inference["int8_tried"]
    assert [c["int8_layers"] for c in tried] == int8_layer_counts(2)[:len(tried)] == sorted(
        (c["int8_layers"] for c in tried), reverse=True)
    assert not any(c["passes"] for c in tried[:-1])  # it stops at the first export that passes


def test_only_the_bottom_layers_are_quantised(tiny_model):
    fp32 = str(tiny_model / ONNX_FP32)
    kept = upper_layers(fp32, 1)
    assert sorted(kept) == sorted(["Attention_1", *(f"/model/bert/encoder/layer.1/{part}/MatMul" for part in
                                                    ("attention/output/dense", "intermediate/dense", "output/dense"))])
    assert upper_layers(fp32, 2) == []


def test_default_backend_is_the_chosen_onnx_file(tagger, tiny_model):
    assert tagger.backend.name == f"onnx:{load_card(tiny_model).inference['onnx']}"


def test_onnx_fp32_matches_pytorch(tiny_model):
    torch_probs = Tagger.load(tiny_model, backend="torch").probabilities(TEXTS)
    onnx_probs = Tagger.load(tiny_model, backend="onnx-fp32").probabilities(TEXTS)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)


def test_chosen_backend_holds_parity_on_dev(tiny_model):
    check = parity(tiny_model, [DATA_DIR / "dev.jsonl"], backend="auto")
    assert check["passes"], check
    assert check["macro_f1_drop"] <= 0.005 and check["same_label_sets"] >= 0.99


def test_unknown_backend_is_refused(tiny_model):
    with pytest.raises(UsageError, match="unknown backend"):
        Tagger.load(tiny_model, backend="gpu")


def test_long_paragraph_is_scored_over_all_its_windows(tiny_model):
    tagger = Tagger.load(tiny_model, backend="onnx-fp32")  # exact arithmetic; int8 depends on batch companions
    filler = "全县干部群众认真学习贯彻会议精神，统一思想认识，凝聚工作合力。" * 30
    text = filler + "建成扶贫车间32个，带动1200余名贫困劳动力就近就业，发放小额信贷4500万元。"
    windows, owners = tagger._windows([text])
    assert len(windows) >= 3 and set(owners.tolist()) == {0}
    assert tagger.tokenizer.decode(windows[-1], skip_special_tokens=True).replace(" ", "").endswith("4500万元。")
    assert all(len(w) <= tagger.card.max_length and w[0] == 0 and w[-1] == 2 for w in windows)
    per_window = np.vstack([tagger.backend.logits(*tagger._batch_arrays([w])) for w in windows])
    np.testing.assert_allclose(tagger.logits([text])[0], per_window.max(axis=0), atol=1e-5)
    calibrated = 1 / (1 + np.exp(-per_window.max(axis=0) / tagger.temperatures))
    np.testing.assert_allclose(tagger.probabilities([text])[0], calibrated, atol=1e-5)


@pytest.mark.parametrize("backend,tolerance", [("torch", 1e-5), ("onnx-fp32", 1e-5), ("onnx-int8", 1e-2)])
def test_batches_barely_change_scores(tiny_model, backend, tolerance):
    """Padding never changes a score; int8 activations are quantised per batch, so they may move a little."""
    tagger = Tagger.load(tiny_model, backend=backend)
    one_by_one = np.vstack([tagger.probabilities([t]) for t in TEXTS])
    np.testing.assert_allclose(tagger.probabilities(TEXTS), one_by_one, atol=tolerance)


def test_each_alone_gives_int8_the_scores_of_tagging_one_paragraph_at_a_time(tiny_model):
    """What evidence relies on: a clause's weight is the drop a user sees tagging the text without it."""
    tagger = Tagger.load(tiny_model, backend="onnx-int8")
    texts = [*TEXTS, "全县干部群众认真学习贯彻会议精神，统一思想认识。" * 30 + "发放小额信贷4500万元。"]
    one_by_one = np.vstack([tagger.probabilities([t]) for t in texts])
    np.testing.assert_array_equal(tagger.probabilities(texts, each_alone=True), one_by_one)


def test_parallel_runs_give_the_same_scores_in_order(tiny_model):
    """Batches run two at a time must come back to the paragraphs they belong to."""
    texts = [t for _ in range(12) for t in TEXTS] + ["全县干部群众认真学习贯彻会议精神。" * 40]
    one_thread = Tagger.load(tiny_model, threads=1).probabilities(texts)
    two_threads = Tagger.load(tiny_model, threads=2).probabilities(texts)
    np.testing.assert_array_equal(two_threads, one_thread)
