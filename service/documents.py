"""A whole document as rows: one per body paragraph, the same for the CLI and the API."""
from __future__ import annotations

from policy_tagger.service.metadata import document_metadata
from policy_tagger.service.segment import split_paragraphs


def document_rows(text: str, doc: str) -> list[dict]:
    """``{"id": "<doc>:<n>", "doc", "paragraph", "section", "region", "year", "text"}`` for each body paragraph,
    in order; region and year are the document's (null when unknown)."""
    paragraphs = split_paragraphs(text)
    meta = document_metadata(text) if paragraphs else {}
    return [{"id": f"{doc}:{p.index}", "doc": doc, "paragraph": p.index, "section": p.section, **meta,
             "text": p.text} for p in paragraphs]
