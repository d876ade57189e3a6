"""Request and response bodies of the REST API."""
from __future__ import annotations

from pydantic import BaseModel, Field


class ParagraphIn(BaseModel):
    id: str | None = Field(None, description="your identifier, echoed back")
    text: str = Field(description="one paragraph")


class ClassifyRequest(BaseModel):
    paragraphs: list[str | ParagraphIn] = Field(description="paragraph strings or {id, text} objects",
                                                examples=[["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。"]])
    evidence: bool = Field(False, description="add `evidence` to each row: the clauses that carry each label")


class DocumentRequest(BaseModel):
    text: str = Field(description="a whole document; split into paragraphs as `label` does")
    id: str | None = Field(None, description="document identifier, echoed back as `doc`")
    evidence: bool = Field(False, description="add `evidence` to each row: the clauses that carry each label")


class EvidenceClause(BaseModel):
    start: int = Field(description="offset of the clause in the row's text")
    end: int
    text: str = Field(description="text[start:end]")
    weight: float = Field(description="how much the label's score drops without this clause")


class Row(BaseModel):
    id: str
    text: str
    labels: list[str]
    scores: dict[str, float]
    model: str
    doc: str | None = None
    paragraph: int | None = None
    section: str | None = None
    region: str | None = Field(None, description="documents: province, prefecture and county named, when found")
    year: int | None = Field(None, description="documents: the report year, when found")
    evidence: dict[str, list[EvidenceClause]] | None = Field(
        None, description="with `evidence: true`: per label in `labels`, its clauses, strongest first")


class ClassifyResponse(BaseModel):
    model: str
    results: list[Row]


class DocumentSummary(BaseModel):
    paragraphs: int
    labels: list[str] = Field(description="labels found in at least one paragraph")
    label_counts: dict[str, int]


class DocumentResponse(ClassifyResponse):
    summary: DocumentSummary


class ErrorResponse(BaseModel):
    error: str = Field(description="a short name: empty_text, too_many_paragraphs, overloaded, …")
    detail: object = Field(description="what is wrong, in words (or a list of problems)")
    request_id: str
