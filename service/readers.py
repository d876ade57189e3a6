"""Input readers for batch labeling: documents (split into paragraphs), JSONL, CSV, stdin."""
from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from policy_tagger.service.documents import document_rows
from policy_tagger.service.errors import InputError

DOCUMENT_SUFFIXES = {".txt", ".md"}


@dataclass
class BadRow:
    where: str
    reason: str


@dataclass
class ReadReport:
    rows: list[dict] = field(default_factory=list)
    skipped: list[BadRow] = field(default_factory=list)


def decode(data: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{where}: not UTF-8 or GB18030 text")


def read_source(source: str) -> str:
    if source == "-":
        return decode(sys.stdin.buffer.read(), "stdin")
    path = Path(source)
    if path.is_dir():
        raise InputError(f"{source}: is a folder; name the files to label")
    try:
        return decode(path.read_bytes(), source)
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from None


def input_format(source: str, text: str) -> str:
    suffix = Path(source).suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        return "document"
    if suffix in (".jsonl", ".csv"):
        return suffix[1:]
    if source == "-":
        return "jsonl" if text.lstrip().startswith("{") else "document"
    raise InputError(f"{source}: unknown input type '{suffix or '(none)'}'; use .txt, .md, .jsonl, .csv or - for stdin")


def _check_text(row: dict, where: str) -> dict:
    text = row.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: field 'text' is missing or not a string")
    if not text.strip():
        raise InputError(f"{where}: field 'text' is empty")
    return row


def _document_rows(source: str, text: str) -> Iterator[tuple[str, dict]]:
    for row in document_rows(text, "stdin" if source == "-" else source):
        yield row["id"], row


def _jsonl_rows(source: str, text: str) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): \r or \u2028 may sit inside a row
        where = f"{source}:{number}"
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield where, InputError(f"{where}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield where, InputError(f"{where}: each line must be a JSON object with a 'text' field")
            continue
        yield where, {"id": row.get("id", where), **row}


def _csv_rows(source: str, text: str) -> Iterator[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise InputError(f"{source}: CSV needs a header row with a 'text' column")
    for row in reader:
        where = f"{source}:{reader.line_num}"
        if None in row:
            yield where, InputError(f"{where}: more cells than header columns")
            continue
        yield where, {"id": row.get("id") or where, **{k: v for k, v in row.items() if k != "id"}}


READERS = {"document": _document_rows, "jsonl": _jsonl_rows, "csv": _csv_rows}


def read_rows(sources: list[str], skip_bad: bool = False) -> ReadReport:
    """Every input row, in order. A bad row stops the run with its file and line, or is skipped with --skip-bad."""
    report = ReadReport()
    for source in sources:
        text = read_source(source)
        for where, row in READERS[input_format(source, text)](source, text):
            try:
                if isinstance(row, InputError):
                    raise row
                report.rows.append(_check_text(row, where))
            except InputError as exc:
                if not skip_bad:
                    raise
                report.skipped.append(BadRow(where, str(exc)))
    return report


