"""The label set: ids, Chinese names, definitions and indicative terms (labels/labels.json)."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from policy_tagger.service.paths import LABELS_FILE


class Label(BaseModel):
    id: str
    name_zh: str
    definition: str
    terms: list[str]


def load_label_set(path: Path = LABELS_FILE) -> list[Label]:
    return [Label(**item) for item in json.loads(path.read_text(encoding="utf-8"))["labels"]]


def label_ids(labels: list[Label] | None = None) -> list[str]:
    return [label.id for label in (labels if labels is not None else load_label_set())]
