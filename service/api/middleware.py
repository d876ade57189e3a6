"""Per request: an id, the API-key check, the body-size limit, metrics and one JSON log line.
Plain ASGI rather than @app.middleware("http"), whose wrapping cost about 1 ms per request."""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
import uuid

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policy_tagger.service.api.handlers import error_response
from policy_tagger.service.api.metrics import Metrics
from policy_tagger.service.settings import Settings

log = logging.getLogger("policy_tagger.api")
OPEN_PATHS = {"/", "/healthz", "/readyz", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
OPEN_PREFIXES = ("/static/",)  # the web page's files: the page asks for the key, so it must load without one
MAX_REQUEST_ID_BYTES = 200


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key.lower() == name), None)


def request_id_of(scope: Scope) -> tuple[str, bytes]:
    """The caller's X-Request-ID, echoed byte for byte (so 'café' comes back as sent), or a fresh one."""
    given = _header(scope, b"x-request-id")
    if given and len(given) <= MAX_REQUEST_ID_BYTES and all(b >= 0x20 and b != 0x7F for b in given):
        return given.decode("utf-8", "replace"), given
    fresh = uuid.uuid4().hex
    return fresh, fresh.encode()


def presented_key(scope: Scope) -> str:
    """Bearer KEY, X-API-Key: KEY, or Basic auth with KEY as the password (any user name): Label Studio's
    ML-backend settings can only send Basic auth."""
    auth = (_header(scope, b"authorization") or b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if auth.lower().startswith("basic "):
        try:
            return base64.b64decode(auth[6:].strip(), validate=True).decode("latin-1").partition(":")[2]
        except (binascii.Error, ValueError):
            return ""
    return (_header(scope, b"x-api-key") or b"").decode("latin-1")


def key_accepted(settings: Settings, given: str) -> bool:
    # compare_digest with every key, without stopping early, so timing says nothing about the keys
    matches = [hmac.compare_digest(given.encode("latin-1", "replace"), key.encode()) for key in settings.api_keys]
    return any(matches)


class RequestContext:
    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics):
        self.app, self.settings, self.metrics = app, settings, metrics

    def refusal(self, scope: Scope, request_id: str) -> ASGIApp | None:
        path = scope["path"]
        if (self.settings.api_keys and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)
                and not key_accepted(self.settings, presented_key(scope))):
            return error_response(401, "unauthorized", "send a valid API key as 'Authorization: Bearer KEY', "
                                  "'X-API-Key: KEY' or Basic auth with KEY as the password", request_id,
                                  {"WWW-Authenticate": "Bearer"})
        length = (_header(scope, b"content-length") or b"").decode("latin-1")
        if length.isdigit() and int(length) > self.settings.max_body_bytes:
            return error_response(413, "body_too_large", f"{length} bytes; at most {self.settings.max_body_bytes}",
                                  request_id)
        return None

    def counted(self, receive: Receive) -> Receive:
        """Counts body bytes as they arrive: a chunked upload has no Content-Length to check up front.
        (FastAPI's own max_body_size answers in plain text, not in our JSON error shape.)"""
        limit, received = self.settings.max_body_bytes, 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # FastAPI passes an HTTPException raised while reading the body through
                    raise HTTPException(413, f"more than {limit} bytes; at most {limit}")
            return message
        return receive_counted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id, id_bytes = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500  # stays 500 if the app raises

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", id_bytes)]
            await send(message)

        try:
            await (self.refusal(scope, request_id) or self.app)(scope, self.counted(receive), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["route"].path if scope.get("route") else "other"
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            log.info(json.dumps({"request_id": request_id, "method": scope["method"], "path": scope["path"],
                                 "status": status, "ms": round(elapsed * 1000, 1)}, ensure_ascii=False))
