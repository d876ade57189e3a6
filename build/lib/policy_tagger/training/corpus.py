"""Reading labelled paragraphs ({"text", "labels": [...]} JSONL rows) for training and evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from policy_tagger.service.errors import InputError


class CorpusError(InputError):
    """A labelled-data file that cannot be used, with the file and line at fault."""


def read_labelled(path: Path, known_labels: list[str]) -> list[dict]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise CorpusError(f"{path}:{number}: a row needs a non-empty string field 'text'")
        labels = row.get("labels")
        if not isinstance(labels, list) or not set(labels) <= set(known_labels):
            raise CorpusError(f"{path}:{number}: 'labels' must be a list drawn from {known_labels}, got {labels!r}")
        rows.append(row)
    if not rows:
        raise CorpusError(f"{path} holds no labelled paragraphs")
    return rows


def label_matrix(rows: list[dict], label_ids: list[str]) -> np.ndarray:
    return np.array([[label in row["labels"] for label in label_ids] for row in rows], dtype=np.int64)
