"""The timeline page: static files shipped in the package, served by the server itself."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Final

from fastapi import APIRouter, Response

from jarvis_contract import ProblemType
from jarvis_server.problems import ProblemError

router = APIRouter(include_in_schema=False)

_ASSETS: Final = {
    "timeline.js": "text/javascript; charset=utf-8",
    "timeline.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@cache
def _read(name: str) -> bytes:
    return files("jarvis_server").joinpath("web", name).read_bytes()


@router.get("/")
async def page() -> Response:
    return Response(
        _read("index.html"),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:  # only the files listed: no path reaches the file system
        raise ProblemError(404, ProblemType.NOT_FOUND, "Not found", f"No asset {name!r}.")
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": "no-cache"})
