"""Split a plain-text or Markdown document into body paragraphs.

PDF and OCR exports hard-wrap lines, sometimes with blank lines between the pieces,
so blank lines do not delimit paragraphs reliably. A line that fills most of the
document's line width and does not end a sentence is joined to the next line.
Short lines without sentence-final punctuation are headings (they become the
``section`` of the paragraphs under them), titles, bylines or photo captions;
those are not paragraphs of their own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = tuple("。！？；：…!?;:.")
CLOSERS = tuple("”’」』）)\"'")
HEADING_MAX_CHARS = 40
CAPTION_MAX_CHARS = 120
MIN_WRAP_CHARS = 25
NUMBERED_HEADING = re.compile(
    r"^(第[一二三四五六七八九十百]+[章节部分篇]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[）)]|\d{1,2}(\s|[.．、]))")
BYLINE = re.compile(r"^(记者|通讯员|本报记者|作者|责任编辑|编辑|来源|日期|发布时间|时间)[\s:：]|^[□■◎]|^[（(][^）)]{2,20}[）)]$")
PHOTO_CREDIT = re.compile(r"(摄|供图|图片来源.*)$")
SPACES = re.compile(r"[ \t\u3000\u00a0\u2002\u2003\u200b\ufeff]+")


def ends_sentence(line: str) -> bool:
    """True if the line ends a sentence: 。！？；：… possibly followed by closing quotes or brackets."""
    return line.rstrip("".join(CLOSERS)).endswith(SENTENCE_END) if line.endswith(CLOSERS) else line.endswith(SENTENCE_END)


@dataclass(frozen=True)
class Block:
    text: str
    kind: str  # body, heading, title, byline, caption


@dataclass(frozen=True)
class Paragraph:
    index: int
    text: str
    section: str | None


def _clean_lines(text: str) -> list[tuple[str, int]]:
    """Non-empty lines with whitespace folded, each with its Markdown heading level (0: not a heading)."""
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = SPACES.sub(" ", raw).strip()
        level = len(line) - len(line.lstrip("#"))
        line = line.lstrip("#").strip()
        if line:
            lines.append((line, level))
    return lines


def _wrap_width(lines: list[tuple[str, int]]) -> int:
    lengths = sorted(len(line) for line, _ in lines)
    return max(MIN_WRAP_CHARS, int(0.7 * lengths[int(0.9 * (len(lengths) - 1))])) if lengths else MIN_WRAP_CHARS


def _joined(lines: list[str]) -> str:
    """Wrapped lines as one text; a space only between two Latin letters or digits."""
    parts = [lines[0]]
    for left, right in zip(lines, lines[1:]):
        needs_space = left[-1:].isascii() and left[-1:].isalnum() and right[:1].isascii() and right[:1].isalnum()
        parts.append((" " if needs_space else "") + right)
    return "".join(parts)


def _raw_blocks(text: str) -> list[tuple[str, int]]:
    """Blocks of joined lines, each with its Markdown heading level. Linear in the number of lines: the
    pieces of a block are collected and joined once (joining line by line was quadratic: 660,000 short
    lines took 15 s)."""
    lines = _clean_lines(text)
    width = _wrap_width(lines)
    blocks: list[tuple[list[str], int]] = []
    continues, block_chars = False, 0
    for line, level in lines:
        if continues and not level:
            blocks[-1][0].append(line)
            block_chars += len(line)
        else:
            blocks.append(([line], level))
            block_chars = len(line)
        is_long = len(line) >= width or block_chars > HEADING_MAX_CHARS
        continues = not level and is_long and not ends_sentence(line)
    return [(_joined(pieces), level) for pieces, level in blocks]


def _first_kind(text: str, markdown_level: int) -> str:
    if markdown_level:
        return "heading"
    if len(text) <= HEADING_MAX_CHARS and (BYLINE.search(text) or PHOTO_CREDIT.search(text)):
        return "byline"
    if len(text) <= HEADING_MAX_CHARS and not ends_sentence(text):
        return "heading"
    if len(text) <= CAPTION_MAX_CHARS and "图为" in text:
        return "caption"
    return "body"


def split_blocks(text: str) -> list[Block]:
    """Every block of the document with its kind."""
    raw = _raw_blocks(text)
    kinds = [_first_kind(t, md) for t, md in raw]
    for i in range(len(raw)):
        # A block just above a photo credit ("记者 某某 摄") is that photo's caption.
        if i + 1 < len(raw) and kinds[i + 1] == "byline" and PHOTO_CREDIT.search(raw[i + 1][0]):
            kinds[i] = "caption"
    seen_body = False
    for i, (block_text, md) in enumerate(raw):
        if kinds[i] == "body":
            seen_body = True
        if kinds[i] != "heading":
            continue
        structural = md > 1 or bool(NUMBERED_HEADING.match(block_text))  # "## …", "一、…", "（二）…"
        body_follows = i + 1 < len(raw) and kinds[i + 1] == "body"
        if not seen_body and not (structural and body_follows):
            kinds[i] = "title"  # title, subtitle or author lines above the text
        elif seen_body and not structural and not md and not body_follows:
            kinds[i] = "caption"  # a short unnumbered line with no text under it: a picture caption
    return [Block(t, k) for (t, _), k in zip(raw, kinds)]


def split_paragraphs(text: str) -> list[Paragraph]:
    """Body paragraphs in order, each with the heading it stands under (or None)."""
    paragraphs: list[Paragraph] = []
    section = None
    for block in split_blocks(text):
        if block.kind == "heading":
            section = block.text
        elif block.kind == "body":
            paragraphs.append(Paragraph(len(paragraphs), block.text, section))
    return paragraphs
