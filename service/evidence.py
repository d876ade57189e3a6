"""Evidence by clause occlusion: which clauses of a paragraph carry each predicted label.

The paragraph is cut into clauses at ，；。！？：, scored once more with each clause left out (all variants of one
paragraph in one call to the served model, each in batches of its own), and a clause's weight for a label is how
far the label's score drops without it. Only the ONNX model already loaded is used: no torch, no gradients."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CLAUSE_END = re.compile(r"[，；。！？：]+")


@dataclass(frozen=True)
class Clause:
    start: int
    end: int


def clauses(text: str) -> list[Clause]:
    """Clauses in order, each ending with its punctuation; surrounding whitespace is left out of the span."""
    spans, start = [], 0
    for match in CLAUSE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    found = []
    for begin, end in spans:
        piece = text[begin:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            found.append(Clause(begin + lead, end - trail))
    return found


def without(text: str, clause: Clause) -> str:
    return text[:clause.start] + text[clause.end:]


def explain(tagger: Any, text: str, labels: Sequence[str]) -> dict[str, list[dict]]:
    """``{label: [{start, end, text, weight}, …]}`` for each label in labels, clauses whose removal lowers the
    label's score, strongest first. Nothing is scored when labels is empty."""
    if not labels:
        return {}
    parts = clauses(text)
    # Each variant scored as if alone, so a clause's weight is exactly the drop a user sees tagging the
    # paragraph with and without it (int8 scores otherwise move with batch companions).
    probs = tagger.probabilities([text, *(without(text, c) for c in parts)], each_alone=True)
    full, occluded = probs[0], probs[1:]
    index = {label: i for i, label in enumerate(tagger.label_ids)}
    evidence = {}
    for label in labels:
        drops = np.round(full[index[label]] - occluded[:, index[label]], 4)
        order = np.argsort(-drops, kind="stable")
        evidence[label] = [{"start": parts[i].start, "end": parts[i].end, "text": text[parts[i].start:parts[i].end],
                            "weight": float(drops[i])}
                           for i in order if drops[i] > 0]
    return evidence


def explain_all(tagger: Any, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> list[dict[str, list[dict]]]:
    """Evidence for each paragraph and its predicted labels: one model call per paragraph that has labels."""
    return [explain(tagger, text, row_labels) for text, row_labels in zip(texts, labels)]
