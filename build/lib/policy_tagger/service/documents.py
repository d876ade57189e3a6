"""A whole document as rows: one per body paragraph, the same for the CLI and the API."""
from __future__ import annotations

from policy_tagger.service.segment import split_paragraphs


def document_rows(text: str, doc: str) -> list[dict]:
    """``{"id": "<doc>:<n>", "doc", "paragraph", "section", "text"}`` for each body paragraph, in order."""
    return [{"id": f"{doc}:{p.index}", "doc": doc, "paragraph": p.index, "section": p.section, "text": p.text}
            for p in split_paragraphs(text)]
