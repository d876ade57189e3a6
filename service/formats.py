"""Readers for office and web documents: Word (.docx), PDF with a text layer, HTML, Excel (.xlsx).

Documents become plain text with Markdown headings and go through the same segmenter as .txt files, so
sections, hard-wrapped lines, titles and bylines are handled one way for every format. Excel sheets are rows
with a `text` column, like CSV. Each reader takes (source name, open binary file) and yields (where, row or
InputError), the contract of service/readers.py."""
from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from policy_tagger.service.documents import document_rows
from policy_tagger.service.errors import InputError, UsageError

Item = tuple[str, "dict | InputError"]
HEADING_STYLE = re.compile(r"^(Heading|标题)\s*(\d)$", re.IGNORECASE)
CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
HIDDEN_HTML = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "iframe", "svg",
               "form", "button", "select")
BLOCK_HTML = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "thead", "tbody",
              "section", "article", "main", "blockquote", "pre", "br", "hr", "center", "figure", "figcaption",
              "h1", "h2", "h3", "h4", "h5", "h6"}


def _needs(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise UsageError(f"reading this file needs {package}: pip install 'policy-tagger[documents]'") from None


def _rows_of_document(text: str, source: str, kind: str) -> Iterator[Item]:
    rows = document_rows(text, source)
    if not rows:
        raise InputError(f"{source}: no paragraphs of text found in this {kind}")
    for row in rows:
        yield row["id"], row


def docx_text(source: str, binary: BinaryIO) -> str:
    """Paragraphs of the body in order; a paragraph in a Heading/Title style becomes a Markdown heading."""
    docx = _needs("docx", "python-docx")
    try:
        document = docx.Document(binary)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{source}: not a readable Word .docx file ({exc})") from None
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = HEADING_STYLE.match(style or "")
        if heading:
            lines.append("#" * (int(heading.group(2)) + 1) + " " + text)
        elif style == "Title":
            lines.append("# " + text)
        else:
            lines.append(text)
    return "\n\n".join(lines)


def pdf_text(source: str, binary: BinaryIO) -> str:
    """The text layer, page by page; hard-wrapped lines are joined later by the segmenter."""
    pdfplumber = _needs("pdfplumber", "pdfplumber")
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        with pdfplumber.open(binary) as pdf:
            pages = [page.extract_text() or "" for page in pdf.pages]
    except (PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{source}: not a readable PDF file ({type(exc).__name__})") from None
    except Exception as exc:  # pdfminer raises its own PSException family on damaged files
        if type(exc).__module__.startswith(("pdfminer", "pdfplumber")):
            raise InputError(f"{source}: not a readable PDF file ({type(exc).__name__})") from None
        raise
    text = "\n".join(pages)
    if not text.strip():
        raise InputError(f"{source}: this PDF has no text layer (a scan?); run OCR on it first, e.g. ocrmypdf")
    return text


def _html_lines(element: Any, lines: list[str], current: list[str]) -> None:
    """Visible text, one line per block element; h1-h6 become Markdown headings."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in HIDDEN_HTML:
        if element.tail:
            current.append(element.tail)
        return
    block = tag in BLOCK_HTML
    if block:
        _flush(lines, current)
    if element.text and isinstance(element.tag, str):
        current.append(element.text)
    for child in element:
        _html_lines(child, lines, current)
    if block:
        _flush(lines, current, "#" * (int(tag[1]) + 1) + " " if re.fullmatch(r"h[1-6]", tag) else "")
    if element.tail:
        current.append(element.tail)


def _flush(lines: list[str], current: list[str], prefix: str = "") -> None:
    text = " ".join("".join(current).split())
    if text:
        lines.append(prefix + text)
    current.clear()


def html_source(source: str, data: bytes) -> str:
    """The page as text: in the charset it declares (GB2312/GBK read as their superset GB18030), else UTF-8 or
    GB18030 as for .txt files. lxml alone would read an undeclared page as Latin-1."""
    from policy_tagger.service.readers import decode

    declared = CHARSET.search(data[:4096])
    if data.startswith(b"\xef\xbb\xbf") or not declared:
        return decode(data, source)
    name = declared.group(1).decode("ascii").lower()
    name = "gb18030" if name in ("gb2312", "gbk", "gb_2312-80", "x-gbk") else name
    try:
        return data.decode(name, errors="replace")
    except LookupError:
        return decode(data, source)


def html_text(source: str, binary: BinaryIO) -> str:
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(XML_DECLARATION.sub("", html_source(source, binary.read())))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InputError(f"{source}: not readable HTML ({exc})") from None
    body = root.find("body")
    lines: list[str] = []
    current: list[str] = []
    _html_lines(body if body is not None else root, lines, current)
    _flush(lines, current)
    return "\n\n".join(lines)


def _docx_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    return _rows_of_document(docx_text(source, binary), source, "Word file")


def _pdf_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    return _rows_of_document(pdf_text(source, binary), source, "PDF")


def _html_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    return _rows_of_document(html_text(source, binary), source, "HTML page")


def _cell(value: object) -> object:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def _xlsx_items(source: str, binary: BinaryIO) -> Iterator[Item]:
    """The first sheet, a header row with a `text` column; rows numbered as Excel shows them."""
    openpyxl = _needs("openpyxl", "openpyxl")
    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"{source}: not a readable Excel .xlsx file ({type(exc).__name__}: {exc})") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        if "text" not in header:
            raise InputError(f"{source}: the first sheet needs a header row with a 'text' column")
        for number, values in enumerate(rows, 2):
            if all(v is None for v in values):
                continue
            where = f"{source}:{number}"
            row = {name: _cell(value) for name, value in zip(header, values) if name}
            if row.get("text") is None:
                yield where, InputError(f"{where}: field 'text' is missing or not a string")
                continue
            row["text"] = str(row["text"])
            yield where, {"id": str(row["id"]) if row.get("id") is not None else where,
                          **{k: v for k, v in row.items() if k != "id"}}
    finally:
        workbook.close()


FORMAT_READERS = {".docx": _docx_items, ".pdf": _pdf_items, ".html": _html_items, ".htm": _html_items,
                  ".xlsx": _xlsx_items}
