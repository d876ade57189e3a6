"""Label Studio in and out, as pure conversions (no HTTP): our rows and scores to Label Studio tasks with
pre-annotations and the labeling config that matches them, and a Label Studio JSON export back to
{"id", "text", "labels"} training rows. The CLI (`policy-tagger labelstudio`) and the ML-backend routes
(service/api/labelstudio.py) both build their predictions here."""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import numpy as np

from policy_tagger.service.errors import InputError
from policy_tagger.service.labelset import Label
from policy_tagger.service.selection import margins

CONTROL = "labels"  # the <Choices> name: from_name of every result
OBJECT = "text"  # the <Text> name: to_name, and the task data field the paragraph is in
REF_FIELD = "ref_id"  # the task data field that carries our row id back through Label Studio
KEPT_FIELDS = ("doc", "paragraph", "section")


def labeling_config(labels: list[Label]) -> str:
    """A multi-choice control over the paragraph: the Chinese names shown, the label ids stored (alias)."""
    choices = "\n".join(f"    <Choice value={quoteattr(label.name_zh)} alias={quoteattr(label.id)} "
                        f"hint={quoteattr(label.id)}/>" for label in labels)
    return (f'<View>\n  <Text name="{OBJECT}" value="${OBJECT}"/>\n'
            f'  <Choices name="{CONTROL}" toName="{OBJECT}" choice="multiple" showInline="false">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def prediction(labels: list[str], probs: np.ndarray, thresholds: np.ndarray, model_version: str) -> dict:
    """One pre-annotation. Its score is the paragraph's smallest |score - threshold| over the labels:
    sorting tasks by prediction score, ascending, puts the least certain first."""
    margin, _ = margins(np.asarray(probs)[None, :], np.asarray(thresholds))
    result = [{"id": "policy-tagger", "from_name": CONTROL, "to_name": OBJECT, "type": "choices",
               "value": {"choices": list(labels)}}] if labels else []
    return {"model_version": model_version, "score": round(float(margin[0]), 4), "result": result}


def task(row: dict, pre_annotation: dict) -> dict:
    data = {OBJECT: row["text"], REF_FIELD: str(row["id"]), **{k: row[k] for k in KEPT_FIELDS if k in row}}
    return {"data": data, "predictions": [pre_annotation]}


@dataclass
class Imported:
    rows: list[dict] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # one line per task whose annotators disagreed
    unannotated: int = 0  # tasks with no annotation left once cancelled ones are skipped


def _stored_value(labels: list[Label]) -> dict[str, str]:
    """What a result may hold for each label: its id (our alias), or its Chinese name (a config without aliases)."""
    return {**{label.name_zh: label.id for label in labels}, **{label.id: label.id for label in labels}}


def _annotation_labels(annotation: dict, stored: dict[str, str], task_id: object) -> set[str]:
    chosen: set[str] = set()
    for result in annotation.get("result") or []:
        if result.get("type") != "choices":
            continue
        for value in result.get("value", {}).get("choices", []):
            if value not in stored:
                raise InputError(f"task {task_id}: unknown label {value!r} (known: {', '.join(sorted(set(stored.values())))})")
            chosen.add(stored[value])
    return chosen


def _when(annotation: dict) -> str:
    return str(annotation.get("updated_at") or annotation.get("created_at") or "")


def _task_rows(item: object, number: int, labels: list[Label], out: Imported) -> None:
    if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
        raise InputError(f"task #{number}: not a Label Studio task (an object with 'data')")
    task_id = item.get("id", f"#{number}")
    text = item["data"].get(OBJECT)
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"task {task_id}: data.{OBJECT} is missing or empty")
    stored = _stored_value(labels)
    kept = [a for a in item.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not kept:
        out.unannotated += 1
        return
    kept.sort(key=_when)  # the most recent last (a stable sort keeps export order among equal times)
    order = [label.id for label in labels]
    sets = [sorted(_annotation_labels(a, stored, task_id), key=order.index) for a in kept]
    if len({tuple(s) for s in sets}) > 1:
        out.conflicts.append(f"task {task_id}: {len(kept)} annotations disagree ("
                             + "; ".join(", ".join(s) or "no label" for s in sets)
                             + f"); took the most recent: {', '.join(sets[-1]) or 'no label'}")
    out.rows.append({"id": str(item["data"].get(REF_FIELD) or f"labelstudio:{task_id}"), "text": text,
                     "labels": sets[-1]})


def read_export(export: object, labels: list[Label]) -> Imported:
    """Training rows from a Label Studio JSON export (a list of tasks with their annotations)."""
    if not isinstance(export, list):
        raise InputError("not a Label Studio JSON export (a list of tasks); export with the 'JSON' format")
    out = Imported()
    for number, item in enumerate(export, 1):
        _task_rows(item, number, labels, out)
    return out
