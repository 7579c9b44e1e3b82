"""Which storage the settings choose: the filesystem (embedded default) or an S3 bucket."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from jarvis_server.core.config import Settings
from jarvis_server.storage import URL_VAR, FilesystemStorage, Storage, StorageError

# s3storage (and obstore) are imported only for a bucket: a filesystem server never needs them.
if TYPE_CHECKING:
    from jarvis_server.s3storage import S3Location


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def s3_location(settings: Settings) -> S3Location:
    """The bucket the settings name, with JARVIS_S3_* first, then the standard AWS variables."""
    from jarvis_server.s3storage import S3Location, parse_s3_url

    try:
        bucket, prefix = parse_s3_url(settings.storage_url)
    except ValueError as exc:
        raise StorageError(f"{exc} (got {settings.storage_url!r})", setting=URL_VAR) from exc
    return S3Location(
        bucket=bucket,
        prefix=prefix,
        endpoint=settings.s3_endpoint_url.rstrip("/") or _env("AWS_ENDPOINT_URL"),
        region=settings.s3_region or _env("AWS_REGION") or _env("AWS_DEFAULT_REGION"),
        access_key_id=settings.s3_access_key_id or _env("AWS_ACCESS_KEY_ID"),
        secret_access_key=settings.s3_secret_access_key.get_secret_value()
        or _env("AWS_SECRET_ACCESS_KEY"),
    )


def storage_path(settings: Settings) -> Path | None:
    """The directory of a filesystem storage; None for a bucket."""
    url = settings.storage_url
    if not url:
        return settings.effective_storage_dir
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StorageError(
                f"file:// URLs name a local directory, not host {parts.netloc!r}; use file:///PATH",
                setting=URL_VAR,
            )
        return Path(unquote(parts.path)).expanduser()
    return None


def open_storage(settings: Settings) -> Storage:
    """The storage the settings choose; StorageError names the setting when it is unusable."""
    path = storage_path(settings)
    if path is not None:
        return FilesystemStorage(path)
    from jarvis_server.s3storage import S3Storage

    return S3Storage(s3_location(settings), spill_dir=settings.data_dir / "uploads")
