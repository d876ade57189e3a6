"""A model whose files changed, or whose labels are not the project's, is refused with a clear message."""
import json
import shutil

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.errors import UsageError
from policy_tagger.service.labelset import LABELS_FILE
from policy_tagger.service.modelcard import MANIFEST_FILE, ModelIntegrityError, load_card, verify_model
from policy_tagger.service.predictor import Tagger


@pytest.fixture
def model_copy(tiny_model, tmp_path):
    return shutil.copytree(tiny_model, tmp_path / "model")


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("backend,damaged", [("auto", "tokenizer.json"), ("torch", "model.safetensors"),
                                             ("onnx-int8", "model.int8.onnx"), ("onnx-fp32", "model.onnx")])
def test_changed_file_is_refused(model_copy, backend, damaged):
    flip_last_byte(model_copy / damaged)
    with pytest.raises(ModelIntegrityError, match=f"{damaged} does not match its checksum"):
        Tagger.load(model_copy, backend=backend)


def test_cli_reports_a_damaged_model(capsys, model_copy, tmp_path):
    flip_last_byte(model_copy / "config.json")
    (tmp_path / "in.jsonl").write_text('{"text": "落实低保。"}\n', encoding="utf-8")
    assert main(["label", str(tmp_path / "in.jsonl"), "--model", str(model_copy), "--quiet"]) == UsageError.exit_code
    err = capsys.readouterr().err
    assert "config.json does not match its checksum" in err and "Traceback" not in err


def test_missing_file_or_manifest_is_refused(model_copy):
    (model_copy / "tokenizer_config.json").unlink()
    with pytest.raises(ModelIntegrityError, match="tokenizer_config.json is missing"):
        Tagger.load(model_copy)
    (model_copy / MANIFEST_FILE).unlink()
    with pytest.raises(ModelIntegrityError, match="has no manifest.json"):
        Tagger.load(model_copy)


def test_label_set_must_match_the_project(model_copy, tmp_path):
    card = load_card(model_copy)
    verify_model(model_copy, card, [], LABELS_FILE)  # the project's own labels: accepted
    other = json.loads(LABELS_FILE.read_text(encoding="utf-8"))
    other["labels"] = other["labels"][:5]
    (tmp_path / "labels.json").write_text(json.dumps(other, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="retrain"):
        verify_model(model_copy, card, [], tmp_path / "labels.json")
