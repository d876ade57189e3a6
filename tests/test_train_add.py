"""`train --add`: the user's own labelled rows are trained on with the corpus and recorded in the model card."""
import json

from policy_tagger.cli.main import main
from policy_tagger.service.modelcard import load_card, sha256_file
from policy_tagger.training.train import data_version

CORPUS = [("全县建成扶贫车间32个。", ["industry"]), ("落实低保兜底政策。", ["social_security"]),
          ("新建农村公路200公里。", [])]
ADDED = [("完成易地扶贫搬迁安置点建设，搬迁群众1200户。", ["relocation"]),
         ("为建档立卡贫困人口代缴城乡居民医疗保险。", ["health"])]


def _rows(path, rows):
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "labels": l}, ensure_ascii=False) + "\n"
                            for i, (t, l) in enumerate(rows)), encoding="utf-8")
    return path


def _train(tiny_model, tmp_path, *extra):
    train = _rows(tmp_path / "train.jsonl", CORPUS)
    return main(["train", "--base", str(tiny_model), "--layers", "0", "--epochs", "1", "--max-steps", "1",
                 "--train-file", str(train), "--dev-file", str(train), "--no-onnx",
                 "--out", str(tmp_path / "model"), *extra])


def test_added_rows_are_trained_on_and_recorded_in_the_card(tiny_model, tmp_path):
    first = _rows(tmp_path / "mine.jsonl", ADDED[:1])
    second = _rows(tmp_path / "more.jsonl", ADDED[1:])
    assert _train(tiny_model, tmp_path, "--add", str(first), "--add", str(second)) == 0
    card = load_card(tmp_path / "model")
    assert card.data["train_paragraphs"] == str(len(CORPUS) + len(ADDED))
    assert card.data[f"added_sha256:{first}"] == sha256_file(first)
    assert card.data[f"added_paragraphs:{second}"] == "1"
    assert card.training["added_files"] == [
        {"file": str(first), "rows": 1, "sha256": sha256_file(first)},
        {"file": str(second), "rows": 1, "sha256": sha256_file(second)}]
    # the version's data hash changes with what was added
    assert card.version.endswith("+" + data_version([tmp_path / "train.jsonl", first, second]))
    assert not card.version.endswith("+" + data_version([tmp_path / "train.jsonl"]))


def test_an_unknown_label_in_added_rows_names_the_file_and_line(tiny_model, tmp_path, capsys):
    bad = _rows(tmp_path / "mine.jsonl", [ADDED[0], ("修建村级卫生室。", ["hospital"])])
    assert _train(tiny_model, tmp_path, "--add", str(bad)) == 3
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "hospital" in err
    assert not (tmp_path / "model").exists()


def test_a_missing_added_file_is_an_input_error(tiny_model, tmp_path, capsys):
    assert _train(tiny_model, tmp_path, "--add", str(tmp_path / "absent.jsonl")) == 3
    assert "absent.jsonl" in capsys.readouterr().err
