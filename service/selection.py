"""Active learning: which unlabelled paragraphs are most worth annotating, from their calibrated scores.
Pure selection over scores already computed (no model here): `policy-tagger select` scores with the Tagger
and hands the scores in."""
from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy_tagger.service.decision import carries_content, decide
from policy_tagger.service.errors import InputError, UsageError

STRATEGIES = ("uncertainty", "diverse", "random")
NEAR_DUPLICATE_JACCARD = 0.8  # character 3-gram Jaccard at which two paragraphs count as the same one
SHINGLE = 3
MINHASH_PERMUTATIONS = 128
# The LSH index only proposes candidates; it looks wider than 0.8 so that pairs at 0.8 are (almost) never
# missed, and each candidate is then checked with the exact Jaccard.
LSH_CANDIDATE_JACCARD = 0.5


def normalised(text: str) -> str:
    """The text without any whitespace: the same paragraph re-wrapped or re-spaced is the same paragraph."""
    return "".join(text.split())


def known_texts(files: Iterable[Path]) -> set[str]:
    """The normalised texts of every row of labelled JSONL files (labels/data)."""
    known = set()
    for path in files:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
            if line.strip():
                try:
                    known.add(normalised(json.loads(line)["text"]))
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise InputError(f"{path}:{number}: not a labelled row ({exc})") from None
    return known


def margins(probs: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per paragraph, the smallest |score - threshold| over the labels, and the label where it is smallest."""
    distance = np.abs(np.asarray(probs) - np.asarray(thresholds))
    closest = distance.argmin(axis=1)
    return distance[np.arange(len(distance)), closest], closest


def shingles(text: str) -> set[str]:
    text = normalised(text)
    return {text[i:i + SHINGLE] for i in range(max(1, len(text) - SHINGLE + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class NearDuplicates:
    """Remembers the paragraphs kept so far and tells whether a new one is a near-duplicate of any of them:
    MinHash LSH finds the candidates, the exact 3-gram Jaccard decides."""

    def __init__(self) -> None:
        try:
            from datasketch import MinHashLSH
        except ModuleNotFoundError:
            raise UsageError("--strategy diverse needs datasketch: pip install 'policy-tagger[annotate]'") from None
        self.index = MinHashLSH(threshold=LSH_CANDIDATE_JACCARD, num_perm=MINHASH_PERMUTATIONS)
        self.kept: dict[str, set[str]] = {}

    @staticmethod
    def _minhash(grams: set[str]) -> Any:
        from datasketch import MinHash

        signature = MinHash(num_perm=MINHASH_PERMUTATIONS)
        signature.update_batch([g.encode("utf-8") for g in grams])
        return signature

    def add_if_new(self, key: str, text: str) -> bool:
        """True (and remembered) if the text is no near-duplicate of one kept before."""
        grams = shingles(text)
        signature = self._minhash(grams)
        if any(jaccard(grams, self.kept[other]) >= NEAR_DUPLICATE_JACCARD for other in self.index.query(signature)):
            return False
        self.index.insert(key, signature)
        self.kept[key] = grams
        return True


@dataclass
class Scored:
    """The paragraphs to choose from and their calibrated scores, in input order."""
    rows: list[dict]
    probs: np.ndarray
    thresholds: np.ndarray
    label_ids: list[str]


def candidates(scored: Scored, known: set[str]) -> list[int]:
    """Indices of the rows worth showing: Chinese content, not labelled already, first of identical texts."""
    seen = set(known)
    kept = []
    for i, row in enumerate(scored.rows):
        text = normalised(row["text"])
        if carries_content(row["text"]) and text not in seen:
            seen.add(text)
            kept.append(i)
    return kept


def _order(strategy: str, pool: list[int], margin: np.ndarray, seed: int) -> list[int]:
    if strategy == "random":
        shuffled = list(pool)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    return sorted(pool, key=lambda i: (margin[i], i))


def select(scored: Scored, n: int, strategy: str = "uncertainty", known: set[str] | None = None,
           seed: int = 13) -> list[dict]:
    """The n rows most worth annotating, each with its scores, labels and why it was picked. uncertainty:
    smallest margin first; diverse: the same, passing over near-duplicates of a row already picked; random."""
    if n < 1:
        raise UsageError(f"--n must be at least 1, got {n}")
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    margin, closest = margins(scored.probs, scored.thresholds)
    order = _order(strategy, candidates(scored, known or set()), margin, seed)
    duplicates = NearDuplicates() if strategy == "diverse" else None
    picked: list[int] = []
    for i in order:
        if len(picked) == n:
            break
        if duplicates is None or duplicates.add_if_new(str(i), scored.rows[i]["text"]):
            picked.append(i)
    return [_pick(scored, i, strategy, scored.label_ids[closest[i]], float(margin[i])) for i in picked]


def _pick(scored: Scored, i: int, strategy: str, closest_label: str, margin: float) -> dict:
    row = scored.rows[i]
    probs = scored.probs[i]
    chosen = decide(probs[None, :], scored.thresholds, [row["text"]])[0]
    return {"id": row["id"], "text": row["text"],
            **{k: row[k] for k in ("doc", "paragraph", "section") if k in row},
            "scores": {label: round(float(p), 4) for label, p in zip(scored.label_ids, probs)},
            "labels": [label for label, c in zip(scored.label_ids, chosen) if c],
            "why": {"strategy": strategy, "closest_label": closest_label, "margin": round(margin, 4)}}
