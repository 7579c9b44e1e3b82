"""OpenAPI fragments the routes declare: problem responses and the multipart upload body."""

from __future__ import annotations

from typing import Any, Final

from jarvis_contract import IDEMPOTENCY_HEADER

_DESCRIPTIONS: Final = {
    400: "Malformed request, metadata or parameters",
    401: "Missing or unknown token",
    403: "Device revoked, or not allowed to read this",
    404: "No such capture",
    408: "The request body stopped arriving; nothing was stored, retry",
    413: "Image larger than the server accepts",
    415: "Not multipart, or not an image of the declared type",
    422: "The capture id is already stored with different content",
    429: "Too many uploads from this device; retry after Retry-After seconds",
    503: "The database or storage is not available",
}

_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "string"}, "required": True}},
    503: {"Retry-After": {"schema": {"type": "string"}}},
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Response declarations for these error codes; bodies become problem documents later."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


UPLOAD_BODY: Final[dict[str, Any]] = {
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": True,
            "description": "The capture id, equal to metadata.id.",
            "schema": {"type": "string", "format": "uuid"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "metadata"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The image: JPEG, PNG or WebP, as declared.",
                        },
                        "metadata": {"$ref": "#/components/schemas/CaptureMetadata"},
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    },
}
