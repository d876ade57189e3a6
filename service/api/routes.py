"""The endpoints. They check limits and translate between HTTP bodies and the tagger; the tagger does the work."""
from __future__ import annotations

import asyncio
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from policy_tagger.service.api.deps import MetricsDep, SettingsDep, TaggerDep
from policy_tagger.service.api.handlers import ApiError
from policy_tagger.service.api.metrics import Metrics
from policy_tagger.service.api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    DocumentRequest,
    DocumentResponse,
    DocumentSummary,
    ErrorResponse,
    ParagraphIn,
    Row,
)
from policy_tagger.service.async_tagger import AsyncTagger
from policy_tagger.service.predictor import Prediction
from policy_tagger.service.readers import READERS, upload_rows
from policy_tagger.service.settings import Settings
from policy_tagger.service.unicode import unpaired_surrogate

ERRORS: dict[int | str, dict] = {status: {"model": ErrorResponse} for status in (401, 413, 422, 503)}
FILE_ERRORS: dict[int | str, dict] = {**ERRORS, 415: {"model": ErrorResponse}}
TABLE_SUFFIXES = {".jsonl", ".csv", ".xlsx", ".parquet"}  # rows with a `text` column, not one document
DOCUMENT_FIELDS = ("id", "doc", "paragraph", "section", "region", "year", "text")


async def paragraph_count_within_limit(request: Request, settings: SettingsDep) -> None:
    """Runs on the parsed JSON before pydantic validates the items: 666,000 bad items must not be
    validated one by one only to be refused for their number."""
    body = await request.json()  # parsed and cached by FastAPI before dependencies run
    paragraphs = body.get("paragraphs") if isinstance(body, dict) else None
    if isinstance(paragraphs, list) and len(paragraphs) > settings.max_paragraphs:
        raise ApiError(413, "too_many_paragraphs",
                       f"{len(paragraphs)} paragraphs; at most {settings.max_paragraphs} per request")


router = APIRouter()


def check_paragraphs(items: list[ParagraphIn], settings: Settings, what: str = "paragraph") -> None:
    if not items:
        raise ApiError(422, "empty_request", "send at least one paragraph")
    if len(items) > settings.max_paragraphs:
        raise ApiError(413, "too_many_paragraphs", f"{len(items)} {what}s; at most {settings.max_paragraphs}")
    for i, item in enumerate(items):
        problem = unpaired_surrogate({"id": item.id, "text": item.text}, f"paragraphs[{i}]")
        if problem:
            raise ApiError(422, "invalid_text", problem)
        if not item.text.strip():
            raise ApiError(422, "empty_text", f"{what} {i} is empty")
        if len(item.text) > settings.max_chars:
            raise ApiError(413, "text_too_long",
                           f"{what} {i} has {len(item.text)} characters; at most {settings.max_chars}")


def check_document(body: DocumentRequest, settings: Settings) -> None:
    problem = unpaired_surrogate({"id": body.id, "text": body.text})
    if problem:
        raise ApiError(422, "invalid_text", problem)
    if not body.text.strip():
        raise ApiError(422, "empty_text", "the document is empty")
    if len(body.text) > settings.max_chars * settings.max_paragraphs:
        raise ApiError(413, "text_too_long", f"the document has {len(body.text)} characters; at most "
                       f"{settings.max_chars * settings.max_paragraphs}")
    lines = body.text.count("\n") + 1
    if lines > settings.max_lines:
        raise ApiError(413, "too_many_lines", f"the document has {lines} lines; at most {settings.max_lines}")


async def evidence_of(tagger: AsyncTagger, texts: list[str], predictions: list[Prediction],
                      wanted: bool) -> list[dict | None]:
    if not wanted:
        return [None] * len(texts)
    return list(await tagger.evidence(texts, predictions))


@router.post("/v1/classify", response_model=ClassifyResponse, response_model_exclude_none=True,
             responses=ERRORS, dependencies=[Depends(paragraph_count_within_limit)])
async def classify(body: ClassifyRequest, tagger: TaggerDep, settings: SettingsDep,
                   metrics: MetricsDep) -> ClassifyResponse:
    items = [p if isinstance(p, ParagraphIn) else ParagraphIn(text=p) for p in body.paragraphs]
    check_paragraphs(items, settings)
    predictions = await tagger.classify([item.text for item in items])
    metrics.paragraphs.inc(len(items))
    evidence = await evidence_of(tagger, [item.text for item in items], predictions, body.evidence)
    rows = [Row(id=item.id if item.id is not None else str(i), text=item.text, labels=p.labels,
                scores=p.scores, model=tagger.model_tag, evidence=e)
            for i, (item, p, e) in enumerate(zip(items, predictions, evidence))]
    return ClassifyResponse(model=tagger.model_tag, results=rows)


async def document_response(paragraphs: list[dict], evidence: bool, tagger: AsyncTagger, settings: Settings,
                            metrics: Metrics) -> DocumentResponse:
    """Tags a document's paragraph rows and counts the labels: the same for a pasted text and a file."""
    if paragraphs:
        check_paragraphs([ParagraphIn(text=p["text"]) for p in paragraphs], settings, "document paragraph")
    predictions = await tagger.classify([p["text"] for p in paragraphs]) if paragraphs else []
    metrics.paragraphs.inc(len(paragraphs))
    clauses = await evidence_of(tagger, [p["text"] for p in paragraphs], predictions, evidence)
    rows = [Row(**p, labels=pred.labels, scores=pred.scores, model=tagger.model_tag, evidence=e)
            for p, pred, e in zip(paragraphs, predictions, clauses)]
    counts = {label: sum(label in r.labels for r in rows) for label in tagger.tagger.label_ids}
    summary = DocumentSummary(paragraphs=len(rows), labels=[label for label, c in counts.items() if c],
                              label_counts=counts)
    return DocumentResponse(model=tagger.model_tag, results=rows, summary=summary)


@router.post("/v1/classify-document", response_model=DocumentResponse, response_model_exclude_none=True,
             responses=ERRORS)
async def classify_document(body: DocumentRequest, tagger: TaggerDep, settings: SettingsDep,
                            metrics: MetricsDep) -> DocumentResponse:
    check_document(body, settings)
    paragraphs = await tagger.split_document(body.text, body.id or "document")
    return await document_response(paragraphs, body.evidence, tagger, settings, metrics)


def file_paragraphs(name: str, data: bytes) -> list[dict]:
    """The upload's rows as `label` reads a file of that name. A table's own columns are not sent back
    (they could be anything); its rows get `id`, `text` and the file's name as `doc`."""
    rows = upload_rows(name, data)
    if PurePath(name).suffix.lower() in TABLE_SUFFIXES:
        return [{"id": str(row["id"]), "doc": name, "text": row["text"]} for row in rows]
    return [{field: row[field] for field in DOCUMENT_FIELDS if field in row} for row in rows]


@router.post("/v1/classify-file", response_model=DocumentResponse, response_model_exclude_none=True,
             responses=FILE_ERRORS)
async def classify_file(
        file: Annotated[UploadFile, File(description="a document (.txt, .md, .docx, .pdf with a text layer, "
                                                     ".html, .htm) or a table with a `text` column (.csv, "
                                                     ".jsonl, .xlsx, .parquet)")],
        tagger: TaggerDep, settings: SettingsDep, metrics: MetricsDep,
        evidence: Annotated[bool, Form(description="add `evidence` to each row")] = False) -> DocumentResponse:
    """A file, read as `policy-tagger label` reads it: per-paragraph rows (`doc` is the file's name) and a
    summary, as from /v1/classify-document. The body-size, paragraph and character limits apply."""
    name = PurePath(file.filename or "").name
    suffix = PurePath(name).suffix.lower()
    if suffix not in READERS:
        raise ApiError(415, "unsupported_file_type", f"{name or 'the file'}: cannot read '{suffix or '(none)'}' "
                       f"files; send one of {', '.join(sorted(READERS))}")
    data = await file.read()
    paragraphs = await asyncio.to_thread(file_paragraphs, name, data)  # PDF and Word parsing take a while
    if not paragraphs:
        raise ApiError(422, "empty_text", f"{name}: no paragraphs of text found in this file")
    return await document_response(paragraphs, evidence, tagger, settings, metrics)


@router.get("/v1/labels")
async def labels(tagger: TaggerDep) -> dict:
    card = tagger.tagger.card
    return {"model": tagger.model_tag,
            "labels": [{**label.model_dump(exclude={"terms"}), "threshold": card.thresholds[label.id]}
                       for label in card.labels]}


@router.get("/healthz")
async def healthz(tagger: TaggerDep) -> dict:
    return {"status": "ok", "model": tagger.model_tag}


@router.get("/readyz")
async def readyz(tagger: TaggerDep) -> dict:
    return {"status": "ready", "model": tagger.model_tag, "model_dir": str(tagger.tagger.model_dir)}


@router.get("/metrics")
async def prometheus_metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
