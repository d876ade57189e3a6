"""Every error the API answers, as one JSON shape: {"error", "detail", "request_id"}; never a traceback."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from policy_tagger.service.batching import NeverFits, Overloaded
from policy_tagger.service.errors import InputError, ModelError, PolicyTaggerError

log = logging.getLogger("policy_tagger.api")
MAX_REPORTED_PROBLEMS = 20  # a body of 666,000 bad items once produced a 107 MB answer


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: object, headers: dict | None = None):
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def error_response(status: int, error: str, detail: object, request_id: str,
                   headers: dict | None = None) -> JSONResponse:
    """The X-Request-ID header is added by the request middleware, byte for byte as the caller sent it."""
    return JSONResponse({"error": error, "detail": detail, "request_id": request_id}, status_code=status,
                        headers=headers)


def _request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def _problems(exc: RequestValidationError) -> list[dict]:
    errors = exc.errors()
    problems = [{"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                for e in errors[:MAX_REPORTED_PROBLEMS]]
    if len(errors) > MAX_REPORTED_PROBLEMS:
        problems.append({"where": "", "problem": f"… and {len(errors) - MAX_REPORTED_PROBLEMS} more"})
    return problems


def _policy_tagger_status(exc: PolicyTaggerError) -> tuple[int, str]:
    if isinstance(exc, InputError):
        return 422, "invalid_input"
    if isinstance(exc, ModelError):
        return 503, "model_unavailable"
    return 400, "bad_request"


def add_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, _request_id(request), exc.headers)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        return error_response(503, "overloaded", str(exc), _request_id(request), {"Retry-After": "1"})

    @app.exception_handler(NeverFits)
    async def never_fits(request: Request, exc: NeverFits) -> JSONResponse:
        return error_response(413, "too_many_paragraphs", str(exc), _request_id(request))

    @app.exception_handler(PolicyTaggerError)
    async def policy_tagger_error(request: Request, exc: PolicyTaggerError) -> JSONResponse:
        status, name = _policy_tagger_status(exc)
        return error_response(status, name, str(exc), _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _problems(exc), _request_id(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, name, exc.detail, _request_id(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s failed", _request_id(request))
        return error_response(500, "internal_error", "the server failed on this request; see its log",
                              _request_id(request))
