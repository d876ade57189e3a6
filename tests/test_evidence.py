"""Evidence by clause occlusion: offsets that slice the text, clauses that really carry the score, and no cost
when it is not asked for."""
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from policy_tagger.cli.main import main
from policy_tagger.service.api import create_app
from policy_tagger.service.evidence import clauses, explain, without
from policy_tagger.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = "全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业；落实低保兜底政策，应保尽保。开展技能培训：3000人次！"


def check_offsets(row: dict) -> None:
    assert set(row["evidence"]) == set(row["labels"])
    for spans in row["evidence"].values():
        assert [s["weight"] for s in spans] == sorted((s["weight"] for s in spans), reverse=True)
        for span in spans:
            assert span["text"] == row["text"][span["start"]:span["end"]] and span["text"].strip()
            assert span["weight"] > 0


def test_clauses_split_at_chinese_clause_punctuation():
    spans = clauses(PARAGRAPH)
    assert [PARAGRAPH[c.start:c.end] for c in spans] == [
        "全县建成扶贫车间32个，", "带动1200余名贫困劳动力就近就业；", "落实低保兜底政策，", "应保尽保。",
        "开展技能培训：", "3000人次！"]
    padded = "  开展培训， 落实低保 "
    assert [padded[c.start:c.end] for c in clauses(padded)] == ["开展培训，", "落实低保"]


def test_leaving_out_the_top_clause_lowers_that_labels_score(tagger):
    evidence = explain(tagger, PARAGRAPH, tagger.label_ids)
    label, spans = max(((label, spans) for label, spans in evidence.items() if spans), key=lambda e: e[1][0]["weight"])
    top = spans[0]
    assert top["weight"] > 0.001
    rest = PARAGRAPH[:top["start"]] + PARAGRAPH[top["end"]:]
    full_score = tagger.tag([PARAGRAPH])[0].scores[label]
    assert tagger.tag([rest])[0].scores[label] < full_score


def test_a_paragraph_of_one_clause(tagger):
    text = "落实家庭医生签约服务"
    assert clauses(text) and without(text, clauses(text)[0]) == ""
    evidence = explain(tagger, text, tagger.label_ids)
    for spans in evidence.values():
        assert all((s["start"], s["end"], s["text"]) == (0, len(text), text) for s in spans)
    assert any(evidence.values())  # without its only clause the text scores lower on some label


class CountingBackend:
    """The real backend, counting the windows it is asked to score."""

    def __init__(self, backend):
        self.backend, self.windows = backend, 0
        self.name, self.parallel = backend.name, backend.parallel

    def logits(self, input_ids, attention_mask):
        return self.backend.logits(input_ids, attention_mask)

    def map_logits(self, batches):
        batches = list(batches)
        self.windows += sum(len(ids) for ids, _ in batches)
        return self.backend.map_logits(batches)


def test_evidence_costs_nothing_when_off(tagger, monkeypatch):
    counting = CountingBackend(tagger.backend)
    monkeypatch.setattr(tagger, "backend", counting)
    texts = [PARAGRAPH, "落实家庭医生签约服务。"]
    with TestClient(create_app(tagger, Settings())) as client:
        rows = client.post("/v1/classify", json={"paragraphs": texts}).json()["results"]
        assert counting.windows == len(texts) and all("evidence" not in r for r in rows)
        rows = client.post("/v1/classify", json={"paragraphs": texts, "evidence": True}).json()["results"]
    assert counting.windows > 2 * len(texts)
    for row in rows:
        check_offsets(row)


def test_api_document_rows_carry_evidence(tagger):
    doc = "一、产业发展\n\n" + PARAGRAPH + "\n\n二、兜底保障\n\n落实低保兜底政策，应保尽保。\n"
    with TestClient(create_app(tagger, Settings())) as client:
        data = client.post("/v1/classify-document", json={"text": doc, "evidence": True}).json()
    assert len(data["results"]) == 2
    for row in data["results"]:
        check_offsets(row)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    """Every paragraph of the seed documents and of the held-out test split, as one JSONL file."""
    from policy_tagger.service.readers import read_rows

    rows = read_rows([str(p) for p in sorted((ROOT / "seeds").glob("*.txt"))]).rows
    rows += [json.loads(line) for line in (ROOT / "labels/data/test.jsonl").read_text(encoding="utf-8").splitlines()]
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": r["text"]}, ensure_ascii=False) + "\n"
                            for i, r in enumerate(rows)), encoding="utf-8")
    return path


def test_label_evidence_offsets_slice_every_corpus_paragraph(capsys, tiny_model, corpus_file, tmp_path):
    out = tmp_path / "tagged.jsonl"
    assert main(["label", str(corpus_file), "--model", str(tiny_model), "--evidence", "--out", str(out),
                 "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(corpus_file.read_text(encoding="utf-8").splitlines())
    assert sum(bool(r["labels"]) for r in rows) > len(rows) // 10  # the check below must cover real spans
    for row in rows:
        check_offsets(row)
