"""Server settings: declared once, read from JARVIS_* environment variables and an optional .env.

The agent reads JARVIS_* variables too, so unknown keys are ignored, and every server key has a
name that cannot be mistaken for an agent setting.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from jarvis_server.errors import JarvisServerError

ENV_PREFIX: Final = "JARVIS_"
MIB: Final = 1024 * 1024
# The agent grabs each monitor alone, and the largest display sold is 8K: 7680x4320 = 33.2 MP
# (a 4000x4000 frame is 16 MP). A WebP costs about 15 bytes a pixel to check (libwebp's canvas
# and frame copies, then Pillow's image; measured by benchmarks/decode_flood.py), so this
# budget bounds one check at 0.5 GB and `decode_concurrency` of them at once. An X screen that
# spans several monitors as one is larger: raise JARVIS_MAX_IMAGE_PIXELS for it.
MAX_IMAGE_PIXELS: Final = 7680 * 4320
# Debian's tesseract-ocr-* packages put their language data here.
TESSDATA_DIR: Final = Path("/usr/share/tesseract-ocr/5/tessdata")
# Pillow refuses more than this as a decompression bomb anyway (Image.MAX_IMAGE_PIXELS).
PILLOW_BOMB_PIXELS: Final = 89_478_485


def server_data_dir() -> Path:
    """Where the embedded defaults live: $JARVIS_HOME/server, else the platform's user data dir."""
    home = os.environ.get("JARVIS_HOME")
    if home:
        return Path(home).expanduser() / "server"
    return Path(user_data_dir("jarvis-server", appauthor=False))


class Settings(BaseSettings):
    """Everything the server can be told. Each field is the env var JARVIS_<FIELD NAME>."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means the embedded SQLite file under the data dir.",
    )
    storage_dir: Path | None = Field(
        default=None, description="Where image files are kept; empty means <data dir>/storage."
    )
    storage_url: str = Field(
        default="",
        description="file:///PATH (the filesystem) or s3://BUCKET/PREFIX (an S3-compatible "
        "bucket); empty means JARVIS_STORAGE_DIR.",
        pattern=r"^$|^(file|s3)://",
    )
    s3_endpoint_url: str = Field(
        default="",
        description="The S3-compatible server, e.g. http://127.0.0.1:9000; empty means "
        "AWS_ENDPOINT_URL, else AWS itself.",
        pattern=r"^$|^https?://[^/]+/?$",
    )
    s3_access_key_id: str = Field(default="", description="Empty means AWS_ACCESS_KEY_ID.")
    s3_secret_access_key: SecretStr = Field(
        default=SecretStr(""), description="Empty means AWS_SECRET_ACCESS_KEY."
    )
    s3_region: str = Field(default="", description="Empty means AWS_REGION (or us-east-1).")
    max_upload_bytes: int = Field(default=20 * MIB, gt=0, description="Largest accepted image.")
    max_image_pixels: int = Field(
        default=MAX_IMAGE_PIXELS,
        gt=0,
        le=PILLOW_BOMB_PIXELS,
        description="Largest image accepted, in pixels (width x height), checked before decoding.",
    )
    decode_concurrency: int = Field(
        default=2,
        gt=0,
        le=64,
        description="PNG and WebP uploads checked at once (each device one at a time).",
    )
    rate_limit_per_minute: float = Field(
        default=1200, gt=0, description="Sustained uploads per device and minute."
    )
    rate_limit_burst: int = Field(
        default=200, gt=0, description="Uploads a device may send at once before being limited."
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply migrations when serving; default: yes on SQLite, no elsewhere.",
    )
    events_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Interval of SSE heartbeat comments on /api/v1/events."
    )
    identity_key_file: Path | None = Field(
        default=None,
        description="A 0600 key file; with it, GET /health/identity proves this server holds "
        "it (set by `jarvis up` for the local server it starts).",
    )
    events_token_recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often open event streams' tokens are checked against the database; "
        "a stream of a revoked or replaced token ends at the next check.",
    )
    request_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Longest wait for a request's headers, from the connection (or the previous "
        "response) on; a client slower than that is disconnected.",
    )
    request_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest wait for the next piece of a request body (answered with 408).",
    )
    response_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest a response may wait for a client that does not read it; then the "
        "connection is dropped.",
    )
    web_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="How long a sign-in to the timeline page lasts; it ends sooner when its "
        "token is revoked or replaced, or on logout.",
    )
    text_extraction: bool = Field(
        default=True,
        description="Read the words of every stored capture (OCR) for search; when off, "
        "captures still queue up and are read once it is turned on.",
    )
    text_languages: str = Field(
        default="eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages to read, joined by '+' (eng+deu); each needs its "
        "traineddata in JARVIS_TEXT_TESSDATA_DIR (Debian: apt install tesseract-ocr-LANG).",
    )
    text_tessdata_dir: Path = Field(
        default=TESSDATA_DIR, description="Where Tesseract's language data (*.traineddata) is."
    )
    text_max_attempts: int = Field(
        default=5,
        gt=0,
        le=100,
        description="Attempts at reading a capture before it is marked failed and skipped.",
    )
    text_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="Wait before the first retry of a failed read; doubles on each next one "
        "(at most an hour).",
    )
    search_plan: Literal["auto", "walk", "window", "gather", "probe"] = Field(
        default="auto",
        description="PostgreSQL: how a search finds its newest hits. 'walk' checks captures "
        "newest first until the page is full (fast for common words), 'window' reads the "
        "captures holding the words from the text index within a span of the newest captures, "
        "and older spans until the page is full (fast for most words, with or without an app), "
        "'gather' takes every capture holding the words and sorts them (fast for rare words), "
        "'probe' walks the newest 1,000 captures and gathers if they do not fill the page, "
        "'auto' picks per query from the index's statistics (a probe where they know too "
        "little of a prefix). The hits are the same; only the time differs. For diagnosis "
        "and tests.",
    )
    server_log_level: str = Field(default="info", pattern=r"(?i)^(debug|info|warning|error)$")
    server_log_json: bool = Field(default=False, description="Log JSON lines instead of text.")

    @property
    def data_dir(self) -> Path:
        return server_data_dir()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'jarvis.db'}"

    @property
    def effective_storage_dir(self) -> Path:
        if self.storage_dir is not None:
            return self.storage_dir.expanduser()
        return self.data_dir / "storage"


class SettingsError(JarvisServerError):
    """A setting has a value the server cannot use; the message names the variable."""


def check_text_languages(settings: Settings) -> None:
    """Refuse languages whose data is not installed, naming the package to install."""
    if not settings.text_extraction:
        return
    tessdata = settings.text_tessdata_dir
    have = {p.stem for p in tessdata.glob("*.traineddata")} if tessdata.is_dir() else set()
    missing = [lang for lang in settings.text_languages.split("+") if lang not in have]
    if missing:
        names = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
        found = ", ".join(sorted(have - {"osd"})) or "none"
        raise SettingsError(
            f"{env_name('text_languages')}: no language data for {', '.join(missing)} in "
            f"{tessdata} (installed: {found}); install it (Debian: apt install {names}), set "
            f"{env_name('text_tessdata_dir')}, or {env_name('text_extraction')}=false"
        )


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings() -> Settings:
    """Read the settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        # A secret's value is never repeated back.
        got = "" if "secret" in field else f" (got {first.get('input')!r})"
        raise SettingsError(f"{env_name(field)}: {first['msg']}{got}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
