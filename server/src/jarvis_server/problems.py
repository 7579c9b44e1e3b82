"""RFC 9457 problem documents for every error the server returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jarvis_contract import PROBLEM_MEDIA_TYPE, Problem, ProblemType
from jarvis_server.errors import JarvisServerError

log = structlog.get_logger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class ProblemError(JarvisServerError):
    """Raised anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = type_
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = [dict(e) for e in errors] if errors is not None else None


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> ProblemResponse:
    body = Problem(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=[dict(e) for e in errors] if errors is not None else None,
    )
    return ProblemResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {})
    )


# What Starlette raises on its own (unknown paths, wrong methods), with a useful next step.
_HTTP_PROBLEMS: dict[int, tuple[str, str, str]] = {
    404: (ProblemType.NOT_FOUND, "Not found", "No such resource; see /docs for the API."),
    405: (
        ProblemType.METHOD_NOT_ALLOWED,
        "Method not allowed",
        "This path does not accept that method; see the Allow header.",
    ),
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Drop the rejected input: it may be a token or a window title that has no place in a reply.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error, including the framework's own, through a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> ProblemResponse:
        return problem_response(
            exc.status,
            exc.type,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            errors=exc.errors,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = jsonable_encoder(_validation_errors(exc))
        where = ", ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors)
        return problem_response(
            400,
            ProblemType.VALIDATION,
            "Invalid request",
            f"Fix these parts of the request: {where}",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        type_, title, detail = _HTTP_PROBLEMS.get(
            exc.status_code, ("about:blank", "HTTP error", str(exc.detail))
        )
        return problem_response(
            exc.status_code,
            type_,
            title,
            detail,
            instance=request.url.path,
            headers=exc.headers,
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> ProblemResponse:
        log.error("database unavailable", path=request.url.path, error=type(exc.orig).__name__)
        return _unavailable(request)

    def _unavailable(request: Request) -> ProblemResponse:
        return problem_response(
            503,
            ProblemType.UNAVAILABLE,
            "Service unavailable",
            "The database is not answering; retry later (see /health/db).",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> ProblemResponse:
        if exc.connection_invalidated:
            return _unavailable(request)
        return await _internal(request, exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> ProblemResponse:
        log.error("unexpected error", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            500,
            ProblemType.INTERNAL,
            "Internal server error",
            "The server failed unexpectedly; the request may be retried. See the server log.",
            instance=request.url.path,
        )
