"""The annotated corpus: schema, labels, no duplicates, splits by document, coverage."""
import json
from collections import Counter
from pathlib import Path

import pytest

from policy_tagger.service.labelset import load_label_set
from policy_tagger.service.paths import DATA_DIR
from policy_tagger.service.segment import split_paragraphs

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "dev", "test")
FIELDS = {"id", "doc", "text", "labels", "source", "province", "year", "genre"}
GENRES = {"county_summary", "news", "inspection_bulletin", "speech", "policy_notice", "interview",
          "gov_work_report", "consolidation_report", "feature", "discipline_report", "audit_report",
          "rectification_report"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict]]:
    return {s: [json.loads(l) for l in (DATA_DIR / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
            for s in SPLITS}


def all_rows(corpus):
    return [r for rows in corpus.values() for r in rows]


def test_rows_follow_the_schema(corpus):
    known = {l.id for l in load_label_set()}
    for row in all_rows(corpus):
        assert set(row) == FIELDS, row["id"]
        assert isinstance(row["text"], str) and row["text"].strip() == row["text"] and row["text"]
        assert set(row["labels"]) <= known and len(set(row["labels"])) == len(row["labels"]), row["id"]
        assert row["source"] in ("seed", "written") and 2013 <= row["year"] <= 2025
        assert row["doc"].startswith("seed:") == (row["source"] == "seed")


def test_no_duplicate_texts_or_ids(corpus):
    rows = all_rows(corpus)
    assert len({r["text"] for r in rows}) == len(rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_no_document_in_two_splits(corpus):
    docs = {s: {r["doc"] for r in rows} for s, rows in corpus.items()}
    assert not docs["train"] & docs["dev"] and not docs["train"] & docs["test"] and not docs["dev"] & docs["test"]


def test_written_documents_have_4_to_15_paragraphs(corpus):
    sizes = Counter(r["doc"] for r in all_rows(corpus) if r["source"] == "written")
    assert all(4 <= n <= 15 for n in sizes.values())


def test_every_seed_paragraph_is_annotated(corpus):
    annotated = {r["text"] for r in all_rows(corpus) if r["source"] == "seed"}
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for p in split_paragraphs(path.read_text(encoding="utf-8")):
            assert p.text in annotated, (path.name, p.index)


def test_coverage_targets(corpus):
    rows = all_rows(corpus)
    assert len(rows) >= 3500
    per_label = Counter(l for r in rows for l in r["labels"])
    assert min(per_label[l.id] for l in load_label_set()) >= 350
    assert sum(not r["labels"] for r in rows) >= 600
    # Real reports carry two or more labels in about 10% of paragraphs; the first corpus had 21%.
    assert 0.08 <= sum(len(r["labels"]) >= 2 for r in rows) / len(rows) <= 0.18


def test_test_split_has_seeds_and_every_genre(corpus):
    test = corpus["test"]
    assert len({r["doc"] for r in test if r["source"] == "seed"}) >= 2
    assert {r["genre"] for r in test if r["source"] == "written"} == GENRES
    sizes = {s: len(rows) for s, rows in corpus.items()}
    total = sum(sizes.values())
    assert 0.6 < sizes["train"] / total < 0.8
    # Rounds 3-8 were written against real-text mistakes and kept out of test (labels/README.md), so test's
    # share fell below 10% (579 of 6,608); what it must keep is a double-annotated set of this size.
    assert sizes["test"] >= 550 and len({r["doc"] for r in test}) >= 60
