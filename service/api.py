"""The REST API (FastAPI): classify paragraphs or whole documents with one model loaded at start."""
from __future__ import annotations

import hmac
import json
import logging
import os
import time
import uuid
from pathlib import Path
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import __version__
from service.batching import MicroBatcher, Overloaded
from service.predictor import Tagger
from service.segment import split_paragraphs

log = logging.getLogger("policy_tagger.api")


OPEN_PATHS = {"/healthz", "/readyz", "/docs", "/openapi.json", "/docs/oauth2-redirect"}


class Settings(BaseModel):
    """Limits and access control; ``from_env`` reads POLICY_TAGGER_* environment variables."""
    max_paragraphs: int = 256
    max_chars: int = 20_000
    max_body_bytes: int = 2_000_000
    max_wait_ms: float = Field(1.0, description="how long a model call waits for more requests to join it")
    api_keys: list[str] = Field(default_factory=list, description="empty: no key needed")
    cors_origins: list[str] = Field(default_factory=list, description="empty: CORS off")

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        keys = [k.strip() for k in env.get("POLICY_TAGGER_API_KEYS", "").split(",") if k.strip()]
        if env.get("POLICY_TAGGER_API_KEYS_FILE"):
            lines = Path(env["POLICY_TAGGER_API_KEYS_FILE"]).read_text(encoding="utf-8").splitlines()
            keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        numbers = {name: env[f"POLICY_TAGGER_{name.upper()}"] for name in ("max_paragraphs", "max_chars",
                   "max_body_bytes", "max_wait_ms") if env.get(f"POLICY_TAGGER_{name.upper()}")}
        origins = [o.strip() for o in env.get("POLICY_TAGGER_CORS_ORIGINS", "").split(",") if o.strip()]
        return cls(api_keys=keys, cors_origins=origins, **numbers)

    def key_accepted(self, given: str) -> bool:
        # compare_digest with every key, without stopping early, so timing says nothing about the keys
        matches = [hmac.compare_digest(given.encode(), key.encode()) for key in self.api_keys]
        return any(matches)


def presented_key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail, headers: dict | None = None):
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


class ParagraphIn(BaseModel):
    id: str | None = Field(None, description="your identifier, echoed back")
    text: str = Field(description="one paragraph")


class ClassifyRequest(BaseModel):
    paragraphs: list[str | ParagraphIn] = Field(description="paragraph strings or {id, text} objects",
                                                examples=[["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。"]])


class DocumentRequest(BaseModel):
    text: str = Field(description="a whole document; split into paragraphs as `label` does")
    id: str | None = Field(None, description="document identifier, echoed back as `doc`")


class Row(BaseModel):
    id: str
    text: str
    labels: list[str]
    scores: dict[str, float]
    model: str
    doc: str | None = None
    paragraph: int | None = None
    section: str | None = None


class ClassifyResponse(BaseModel):
    model: str
    results: list[Row]


class DocumentSummary(BaseModel):
    paragraphs: int
    labels: list[str] = Field(description="labels found in at least one paragraph")
    label_counts: dict[str, int]


class DocumentResponse(ClassifyResponse):
    summary: DocumentSummary


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("policy_tagger_requests_total", "HTTP requests", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("policy_tagger_request_seconds", "request latency", ["path"],
                                 registry=self.registry)
        self.paragraphs = Counter("policy_tagger_paragraphs_total", "paragraphs classified", registry=self.registry)


def _error(status: int, error: str, detail, request_id: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, "request_id": request_id}, status_code=status,
                        headers={**(headers or {}), "X-Request-ID": request_id})


class RequestContext:
    """Gives each request an id, checks its API key and body size, and records metrics and a log line.
    Plain ASGI rather than @app.middleware("http"), whose wrapping cost about 1 ms per request."""

    def __init__(self, app, settings: Settings, metrics: Metrics):
        self.app, self.settings, self.metrics = app, settings, metrics

    def refusal(self, request: Request, request_id: str) -> JSONResponse | None:
        length = request.headers.get("content-length")
        if (self.settings.api_keys and request.url.path not in OPEN_PATHS
                and not self.settings.key_accepted(presented_key(request))):
            return _error(401, "unauthorized", "send a valid API key as 'Authorization: Bearer KEY' or "
                          "'X-API-Key: KEY'", request_id, {"WWW-Authenticate": "Bearer"})
        if length and length.isdigit() and int(length) > self.settings.max_body_bytes:
            return _error(413, "body_too_large", f"{length} bytes; at most {self.settings.max_body_bytes}",
                          request_id)
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500  # stays 500 if the app raises

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):  # error bodies carry it
                    message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await (self.refusal(request, request_id) or self.app)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["route"].path if scope.get("route") else "other"
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            log.info(json.dumps({"request_id": request_id, "method": scope["method"], "path": scope["path"],
                                 "status": status, "ms": round(elapsed * 1000, 1)}))


def _check_texts(texts: list[str], settings: Settings) -> None:
    if not texts:
        raise ApiError(422, "empty_request", "send at least one paragraph")
    if len(texts) > settings.max_paragraphs:
        raise ApiError(413, "too_many_paragraphs", f"{len(texts)} paragraphs; at most {settings.max_paragraphs} per request")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(422, "empty_text", f"paragraph {i} is empty")
        if len(text) > settings.max_chars:
            raise ApiError(413, "text_too_long", f"paragraph {i} has {len(text)} characters; at most {settings.max_chars}")


def create_app(tagger: Tagger, settings: Settings | None = None, batcher: MicroBatcher | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    batcher = batcher or MicroBatcher(tagger.probabilities, max_wait_ms=settings.max_wait_ms,
                                      in_flight=tagger.backend.parallel)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="policy-tagger", version=__version__, lifespan=lifespan,
                  description="Tags paragraphs of Chinese poverty-alleviation documents by intervention type.")

    app.add_middleware(RequestContext, settings=settings, metrics=metrics)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"])

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.error, exc.detail, request.state.request_id, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        detail = [{"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        return _error(422, "invalid_request", detail, request.state.request_id)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        name = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, name, exc.detail, request.state.request_id)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("request %s failed", request.state.request_id)
        return _error(500, "internal_error", "the server failed on this request; see its log",
                      request.state.request_id)

    async def classify_texts(texts: list[str]):
        try:
            probs = await batcher.submit(texts)
        except Overloaded as exc:
            raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": "1"}) from None
        metrics.paragraphs.inc(len(texts))
        return tagger.predictions(probs)

    @app.post("/v1/classify", response_model=ClassifyResponse, response_model_exclude_none=True)
    async def classify(body: ClassifyRequest):
        items = [p if isinstance(p, ParagraphIn) else ParagraphIn(text=p) for p in body.paragraphs]
        _check_texts([item.text for item in items], settings)
        predictions = await classify_texts([item.text for item in items])
        rows = [Row(id=item.id if item.id is not None else str(i), text=item.text, labels=p.labels,
                    scores=p.scores, model=tagger.model_tag) for i, (item, p) in enumerate(zip(items, predictions))]
        return ClassifyResponse(model=tagger.model_tag, results=rows)

    @app.post("/v1/classify-document", response_model=DocumentResponse, response_model_exclude_none=True)
    async def classify_document(body: DocumentRequest):
        if not body.text.strip():
            raise ApiError(422, "empty_text", "the document is empty")
        if len(body.text) > settings.max_chars * settings.max_paragraphs:
            raise ApiError(413, "text_too_long", f"document has {len(body.text)} characters")
        paragraphs = split_paragraphs(body.text)
        doc = body.id or "document"
        predictions = await classify_texts([p.text for p in paragraphs]) if paragraphs else []
        rows = [Row(id=f"{doc}:{p.index}", doc=doc, paragraph=p.index, section=p.section, text=p.text,
                    labels=pred.labels, scores=pred.scores, model=tagger.model_tag)
                for p, pred in zip(paragraphs, predictions)]
        counts = {label: sum(label in r.labels for r in rows) for label in tagger.label_ids}
        summary = DocumentSummary(paragraphs=len(rows), labels=[l for l, c in counts.items() if c], label_counts=counts)
        return DocumentResponse(model=tagger.model_tag, results=rows, summary=summary)

    @app.get("/v1/labels")
    async def labels():
        return {"model": tagger.model_tag,
                "labels": [{**label.model_dump(exclude={"terms"}), "threshold": tagger.card.thresholds[label.id]}
                           for label in tagger.card.labels]}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": tagger.model_tag}

    @app.get("/readyz")
    async def readyz():
        return {"status": "ready", "model": tagger.model_tag, "model_dir": str(tagger.model_dir)}

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
