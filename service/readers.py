"""Input readers for batch labeling, streaming: rows are read as they are needed, so memory does not grow
with the input. Documents (.txt, .md, .docx, .pdf, .html: split into paragraphs), JSONL, CSV, Excel, Parquet,
stdin, and folders of them."""
from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from policy_tagger.service.documents import document_rows
from policy_tagger.service.errors import InputError
from policy_tagger.service.formats import FORMAT_READERS
from policy_tagger.service.unicode import unpaired_surrogate

DOCUMENT_SUFFIXES = {".txt", ".md"}
SNIFF_BYTES = 1 << 20  # the encoding of a CSV/JSONL file is decided on its first MB
# Python's csv module stops at 131,072 characters a cell; paragraphs can be long, so a cell may hold up to
# this many before the row is bad input (a longer cell is almost always a quote that was never closed).
MAX_CSV_CELL_CHARS = 2_000_000
MAX_CSV_ROW_LINES = 500  # a quoted cell that swallows more line breaks than this is an unclosed quote


@dataclass
class BadRow:
    where: str
    reason: str


Item = tuple[str, "dict | InputError"]  # where (file:line), and the row or what is wrong with it


def decode(data: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{where}: not UTF-8 or GB18030 text")


def sniff_encoding(head: bytes) -> str:
    """utf-8-sig if the first bytes decode as UTF-8 (a character cut at the end is fine), else gb18030."""
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def _open_binary(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if path.is_dir():
        raise InputError(f"{source}: is a folder; name the files to label")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from None


class _Peekable(io.RawIOBase):
    """A binary stream whose first bytes were already read (to sniff the encoding or the format)."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _head(binary: BinaryIO) -> bytes:
    """Up to SNIFF_BYTES from the start, without waiting for more than what a pipe has ready."""
    read1 = getattr(binary, "read1", None)
    return read1(SNIFF_BYTES) if read1 else binary.read(SNIFF_BYTES)


def _text_stream(binary: BinaryIO, newline: str) -> io.TextIOWrapper:
    head = _head(binary)
    stream = io.BufferedReader(_Peekable(head, binary), buffer_size=1 << 16)
    return io.TextIOWrapper(stream, encoding=sniff_encoding(head), newline=newline)


def _lines(source: str, binary: BinaryIO) -> Iterator[tuple[int, str]]:
    """Lines split on \\n only (a stray \\r or \\u2028 is not a line end), numbered from 1, each as soon
    as it arrives: a pipe is read as it is written."""
    number = 0
    try:
        for number, line in enumerate(_text_stream(binary, newline="\n"), 1):
            yield number, line.removesuffix("\n")
    except UnicodeDecodeError:
        raise InputError(f"{source}:{number + 1}: not UTF-8 or GB18030 text") from None
def _document_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    for row in document_rows(decode(binary.read(), source), "stdin" if source == "-" else source):
        yield row["id"], row


def _jsonl_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    for number, line in _lines(source, binary):
        where = f"{source}:{number}"
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield where, InputError(f"{where}: not valid JSON ({exc.msg})")
            continue
        except RecursionError:
            yield where, InputError(f"{where}: JSON nested too deeply")
            continue
        if not isinstance(row, dict):
            yield where, InputError(f"{where}: each line must be a JSON object with a 'text' field")
            continue
        yield where, {"id": row.get("id", where), **row}


def _csv_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    csv.field_size_limit(MAX_CSV_CELL_CHARS)
    reader = csv.DictReader(_text_stream(binary, newline=""), strict=True)
    try:
        fieldnames = reader.fieldnames
    except UnicodeDecodeError:
        raise InputError(f"{source}:1: not UTF-8 or GB18030 text") from None
    except csv.Error as exc:
        raise InputError(f"{source}:1: cannot read the CSV header ({exc})") from None
    if not fieldnames or "text" not in fieldnames:
        raise InputError(f"{source}: CSV needs a header row with a 'text' column")
    started = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InputError(f"{source}:{started}: not UTF-8 or GB18030 text") from None
        except csv.Error as exc:  # the reader cannot go on after this
            reason = str(exc).replace("unexpected end of data", "the file ends inside a quoted cell")
            raise InputError(f"{source}:{started}: cannot read this CSV row ({reason}); if a quote is never "
                             "closed, close it") from None
        where = f"{source}:{started}"
        if reader.line_num - started >= MAX_CSV_ROW_LINES:
            yield where, InputError(f"{where}: one row spans lines {started}-{reader.line_num}: a quote is "
                                    "probably never closed")
        elif None in row:
            yield where, InputError(f"{where}: more cells than header columns")
        else:
            yield where, {"id": row.get("id") or where, **{k: v for k, v in row.items() if k != "id"}}
        started = reader.line_num + 1


def _parquet_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(binary)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source}: not a readable Parquet file ({exc})") from None
    if "text" not in parquet.schema_arrow.names:
        raise InputError(f"{source}: Parquet needs a 'text' column")
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            where = f"{source}:row {number}"
            yield where, {**row, "id": row["id"] if row.get("id") is not None else where}


READERS: dict[str, Callable[[str, BinaryIO], Iterator[Item]]] = {
    **dict.fromkeys(DOCUMENT_SUFFIXES, _document_items), ".jsonl": _jsonl_items, ".csv": _csv_items,
    ".parquet": _parquet_items, **FORMAT_READERS}


def expand_folders(sources: Iterable[str]) -> Iterator[str]:
    """Each input as given, except a folder: every file of a supported type under it, sorted by path
    (hidden files and folders left out)."""
    for source in sources:
        path = Path(source)
        if source == "-" or not path.is_dir():
            yield source
            continue
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READERS
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not found:
            raise InputError(f"{source}: a folder with no file to label in it (supported: "
                             f"{', '.join(sorted(READERS))})")
        yield from map(str, found)


def reader_for(source: str, binary: BinaryIO) -> tuple[Callable[[str, BinaryIO], Iterator[Item]], BinaryIO]:
    suffix = Path(source).suffix.lower()
    if suffix in READERS:
        return READERS[suffix], binary
    if source == "-":
        head = _head(binary)
        stream = io.BufferedReader(_Peekable(head, binary))
        return (_jsonl_items if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else _document_items), stream
    known = ", ".join(sorted(READERS))
    raise InputError(f"{source}: unknown input type '{suffix or '(none)'}'; use {known} or - for stdin")


def check_row(row: dict, where: str) -> dict:
    text = row.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: field 'text' is missing or not a string")
    if not text.strip():
        raise InputError(f"{where}: field 'text' is empty")
    problem = unpaired_surrogate(row)
    if problem:
        raise InputError(f"{where}: {problem}")
    return row


def source_items(source: str) -> Iterator[Item]:
    """Every (where, row or error) of one input, as it is read."""
    binary = _open_binary(source)
    try:
        read, stream = reader_for(source, binary)
        for where, row in read(source, stream):
            if isinstance(row, dict):
                try:
                    row = check_row(row, where)
                except InputError as exc:
                    row = exc
            yield where, row
    finally:
        if binary is not sys.stdin.buffer:
            binary.close()


def upload_rows(name: str, data: bytes) -> list[dict]:
    """Every row of one uploaded file, read as `label` reads a file of that name (documents split into
    paragraphs with sections, region and year); the first bad row raises its InputError."""
    read, stream = reader_for(name, io.BytesIO(data))
    rows = []
    for where, row in read(name, stream):
        if isinstance(row, InputError):
            raise row
        rows.append(check_row(row, where))
    return rows


def iter_rows(sources: Iterable[str], skip_bad: bool, on_skip: Callable[[BadRow], None]) -> Iterator[dict]:
    """Every good input row, in order. A bad row stops the run with its file and line (InputError), or with
    skip_bad is handed to on_skip and passed over."""
    for source in expand_folders(sources):
        for where, row in source_items(source):
            if isinstance(row, InputError):
                if not skip_bad:
                    raise row
                on_skip(BadRow(where, str(row)))
            else:
                yield row


@dataclass
class ReadReport:
    rows: list[dict]
    skipped: list[BadRow]


def read_rows(sources: list[str], skip_bad: bool = False) -> ReadReport:
    """All rows at once, for small inputs (tests, `select`); `label` streams with iter_rows."""
    skipped: list[BadRow] = []
    return ReadReport(list(iter_rows(sources, skip_bad, skipped.append)), skipped)
