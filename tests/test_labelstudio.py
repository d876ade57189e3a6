"""`policy-tagger labelstudio export` / `import`: tasks with pre-annotations and the matching labeling config
out, a Label Studio JSON export back in as training rows."""
import json
import xml.etree.ElementTree as ET

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.labelset import load_label_set
from policy_tagger.service.modelcard import load_card
from policy_tagger.training.corpus import read_labelled

LABELS = load_label_set()
IDS = [label.id for label in LABELS]
TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "为建档立卡贫困人口代缴城乡居民医疗保险，实现应保尽保。",
         "完成易地扶贫搬迁安置点建设，搬迁群众1200户。", "县纪委开展扶贫领域腐败和作风问题专项治理。", "新建农村公路200公里。"]


@pytest.fixture
def rows_file(write_jsonl):
    return write_jsonl("rows.jsonl", [{"id": f"p{i}", "text": t} for i, t in enumerate(TEXTS)])


@pytest.fixture
def exported(tiny_model, rows_file, tmp_path):
    out = tmp_path / "ls" / "tasks.json"
    assert main(["labelstudio", "export", str(rows_file), "--model", str(tiny_model), "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8")), out.parent / "labeling.xml"


def test_export_writes_tasks_with_the_models_pre_annotations(tiny_model, rows_file, exported, tmp_path):
    tasks, _ = exported
    assert main(["label", str(rows_file), "--model", str(tiny_model), "--out", str(tmp_path / "tagged.jsonl")]) == 0
    tagged = [json.loads(line) for line in (tmp_path / "tagged.jsonl").read_text(encoding="utf-8").splitlines()]
    card = load_card(tiny_model)
    assert [t["data"]["text"] for t in tasks] == TEXTS
    assert [t["data"]["ref_id"] for t in tasks] == [f"p{i}" for i in range(len(TEXTS))]
    for task, row in zip(tasks, tagged):
        (pred,) = task["predictions"]
        assert pred["model_version"] == card.tag
        shown = [c for r in pred["result"] for c in r["value"]["choices"]]
        assert shown == row["labels"]
        assert all(r["from_name"] == "labels" and r["to_name"] == "text" and r["type"] == "choices"
                   for r in pred["result"])
        closest = min(abs(s - card.thresholds[label]) for label, s in row["scores"].items())
        assert pred["score"] == pytest.approx(closest, abs=1e-3)


def test_export_writes_the_matching_multi_choice_config(exported):
    _, config = exported
    view = ET.fromstring(config.read_text(encoding="utf-8"))
    assert view.find("Text").attrib == {"name": "text", "value": "$text"}
    choices = view.find("Choices")
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("labels", "text", "multiple")
    assert [(c.get("alias"), c.get("value")) for c in choices] == [(label.id, label.name_zh) for label in LABELS]


def _annotation(choices, created, cancelled=False):
    result = [{"from_name": "labels", "to_name": "text", "type": "choices", "value": {"choices": choices}}] \
        if choices else []
    return {"result": result, "was_cancelled": cancelled, "created_at": created, "updated_at": created}


def _export(tasks):
    """What Label Studio exports: the tasks with ids and the annotators' annotations."""
    annotations = [
        [_annotation(["industry", "education"], "2026-01-01T10:00:00Z")],
        [_annotation(["supervision"], "2026-01-01T10:00:00Z", cancelled=True),
         _annotation(["健康扶贫"], "2026-01-01T11:00:00Z")],  # a config without aliases stores the shown name
        [_annotation([], "2026-01-01T10:00:00Z")],
        [_annotation(["supervision"], "2026-01-02T10:00:00Z"), _annotation(["industry"], "2026-01-01T10:00:00Z")],
        []]
    return [{**t, "id": 100 + i, "annotations": a} for i, (t, a) in enumerate(zip(tasks, annotations))]


def test_import_turns_annotations_into_training_rows(exported, write_jsonl, tmp_path, capsys):
    tasks, _ = exported
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_export(tasks), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "annotated.jsonl"
    assert main(["labelstudio", "import", str(export), "--out", str(out)]) == 0
    rows = read_labelled(out, IDS)  # what train --add reads
    assert [(r["id"], r["text"], r["labels"]) for r in rows] == [
        ("p0", TEXTS[0], ["industry", "education"]),
        ("p1", TEXTS[1], ["health"]),  # the cancelled annotation is skipped
        ("p2", TEXTS[2], []),  # an empty result: no label
        ("p3", TEXTS[3], ["supervision"])]  # conflicting: the most recent, whatever the export order
    err = capsys.readouterr().err
    assert "task 103" in err and "most recent" in err
    assert "1 without an annotation" in err


def test_import_refuses_an_unknown_label_naming_the_task(exported, tmp_path, capsys):
    tasks, _ = exported
    bad = _export(tasks)
    bad[2]["annotations"] = [_annotation(["hospital"], "2026-01-01T10:00:00Z")]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "annotated.jsonl"
    assert main(["labelstudio", "import", str(export), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "task 102" in err and "hospital" in err
    assert not out.exists()


@pytest.mark.parametrize("content", ["{not json", '{"tasks": []}', '[{"id": 1}]'])
def test_import_of_something_else_is_an_input_error(tmp_path, capsys, content):
    export = tmp_path / "export.json"
    export.write_text(content, encoding="utf-8")
    assert main(["labelstudio", "import", str(export), "--out", str(tmp_path / "rows.jsonl")]) == 3
    assert "export.json" in capsys.readouterr().err
