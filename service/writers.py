"""Output rows and the formats they are written in: JSONL, CSV, Parquet. Writers take an iterable of rows
and stream it; CSV and Parquet read it twice (once for the columns, once for the rows), so they take a
function that makes the iterable again."""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

RESULT_FIELDS = ("labels", "scores", "model", "evidence")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"); such cells are
# written with a leading apostrophe, which spreadsheets show as text and do not display.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PARQUET_BATCH_ROWS = 10_000

Rows = Callable[[], Iterable[dict]]


def result_names(label_ids: list[str]) -> set[str]:
    return {*RESULT_FIELDS, *(f"score_{label}" for label in label_ids)}


def output_row(row: dict, labels: list[str], scores: dict[str, float], model: str, label_ids: list[str],
               **extra: object) -> dict:
    """The input row with the results added. An input field whose name a result takes is kept as
    input_<name> (input_<name>_2, … if that is taken too): nothing the input held is overwritten."""
    reserved = result_names(label_ids)
    taken = set(row) | reserved
    kept = {}
    for name, value in row.items():
        if name in reserved:
            new, n = f"input_{name}", 2
            while new in taken:
                new, n = f"input_{name}_{n}", n + 1
            taken.add(new)
            name = new
        kept[name] = value
    return {**kept, "labels": labels, "scores": scores, "model": model, **extra}


def write_jsonl(rows: Iterable[dict], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _flat(row: dict, label_ids: list[str]) -> dict:
    """labels joined with ';' and one score_<label> column each (CSV); nested values as JSON text."""
    flat = {k: v for k, v in row.items() if k != "scores"}
    flat["labels"] = ";".join(row["labels"])
    flat.update({f"score_{label}": row["scores"][label] for label in label_ids})
    return flat


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, (int, float)):
        return value
    return json.dumps(value, ensure_ascii=False)


def columns_of(rows: Iterable[dict]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def write_csv(rows: Rows, label_ids: list[str], out: TextIO) -> int:
    columns = columns_of(_flat(r, label_ids) for r in rows())
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows():
        flat = _flat(row, label_ids)
        writer.writerow([_csv_cell(flat.get(column)) for column in columns])
        count += 1
    return count


def _parquet_row(row: dict, label_ids: list[str]) -> dict:
    flat = {k: v for k, v in row.items() if k != "scores"}
    flat.update({f"score_{label}": row["scores"][label] for label in label_ids})
    return flat


def _batches(rows: Iterable[dict], size: int) -> Iterable[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_parquet(rows: Rows, label_ids: list[str], out: BinaryIO) -> int:
    """One column per input field, `labels` as a list column, one `score_<label>` column per label."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def tables() -> Iterable[pa.Table]:
        for batch in _batches((_parquet_row(r, label_ids) for r in rows()), PARQUET_BATCH_ROWS):
            # from_pylist alone takes the columns of the first row: rows of a document after Parquet rows lost
            # doc, paragraph and section
            yield pa.Table.from_pydict({column: [r.get(column) for r in batch] for column in columns_of(batch)})

    schemas = [table.schema for table in tables()]
    schema = (pa.unify_schemas(schemas, promote_options="permissive") if schemas else
              pa.schema([("id", pa.string()), ("text", pa.string()), ("labels", pa.list_(pa.string())),
                         ("model", pa.string()), *((f"score_{label}", pa.float64()) for label in label_ids)]))
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        for batch in _batches((_parquet_row(r, label_ids) for r in rows()), PARQUET_BATCH_ROWS):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
        if not count:
            writer.write_table(schema.empty_table())
    return count


@contextmanager
def written_whole(path: Path) -> Iterator[TextIO]:
    """The whole file or nothing: written beside the target and renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.partial"
    with open(partial, "w", encoding="utf-8") as out:
        yield out
    os.replace(partial, path)


def write_jsonl_file(rows: Iterable[dict], path: Path) -> int:
    with written_whole(path) as out:
        return write_jsonl(rows, out)
