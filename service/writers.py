"""Output writers for batch labeling: the result row, JSONL and CSV."""
from __future__ import annotations

import csv
import json
from typing import TextIO

RESULT_FIELDS = ("labels", "scores", "model")


def output_row(row: dict, labels: list[str], scores: dict[str, float], model: str) -> dict:
    """The input row with the results added; an input field that clashes with a result is kept as input_<name>."""
    kept = {(f"input_{k}" if k in RESULT_FIELDS else k): v for k, v in row.items()}
    return {**kept, "labels": labels, "scores": scores, "model": model}


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def csv_columns(rows: list[dict], label_ids: list[str]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(k for k in row if k not in ("scores",)))
    return list(columns) + [f"score_{label}" for label in label_ids]


def write_csv(rows: list[dict], label_ids: list[str], out: TextIO) -> None:
    writer = csv.writer(out)
    columns = csv_columns(rows, label_ids)
    writer.writerow(columns)
    for row in rows:
        flat = {**row, "labels": ";".join(row["labels"]),
                **{f"score_{label}": row["scores"][label] for label in label_ids}}
        writer.writerow([_csv_cell(flat.get(column)) for column in columns])


def write_jsonl(rows: list[dict], out: TextIO) -> None:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
