"""Image objects in an S3-compatible bucket (obstore), with the filesystem storage's guarantees.

An upload is received into a PendingFile exactly as for the filesystem (memory, spilling to a
private local temporary file past a megabyte), checked, then PUT whole; S3 answers a PUT only once
the object is durably stored, so the row that commits afterwards never lists an object that is
not there. Every object gets a key of its own, date-partitioned
({YYYY}/{MM}/{DD}/{id}.{rand}.{ext}): not every S3-compatible server honours a conditional PUT
(rclone's does not), so two uploads of one capture id racing on two replicas must never aim at
the same key, or one could replace the other's bytes under a row that describes them.

obstore was chosen over aioboto3 by measurement (300 PUTs of 150 KB, 8 at once, to rclone on two
cores): 0.4-0.7 ms of client CPU a PUT against 2.1-2.6 ms, 450-600 PUTs/s against 180-230, a
30 ms import against 0.8 s, and no botocore/aiohttp to carry.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import anyio.to_thread
import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from jarvis_server.storage import (
    URL_VAR,
    PendingFile,
    RejectedFile,
    StorageError,
    StorageScan,
    StorageUnavailable,
    Verify,
)

QUARANTINE_PREFIX: Final = ".quarantine/"
PROBE_PREFIX: Final = ".probe/"
_SPECIAL: Final = (QUARANTINE_PREFIX, PROBE_PREFIX, ".tmp/")
_DELETE_BATCH: Final = 500
# What obstore raises: its own errors, and the builtin FileNotFoundError for a missing object
# or bucket (told apart by the server's NoSuchBucket code).
_FAILURES: Final = (BaseError, FileNotFoundError)

ENDPOINT_VAR: Final = "JARVIS_S3_ENDPOINT_URL"
KEY_VAR: Final = "JARVIS_S3_ACCESS_KEY_ID"
SECRET_VAR: Final = "JARVIS_S3_SECRET_ACCESS_KEY"  # noqa: S105 (the variable's name)


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where the objects live and how to reach them; the secret never appears in repr."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None
    access_key_id: str | None
    secret_access_key: str | None = None

    def __repr__(self) -> str:
        return f"S3Location({self.describe()})"

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint}" if self.endpoint else where


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX` -> (bucket, prefix without slashes at its ends); ValueError says why."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError("use s3://BUCKET/PREFIX (the prefix may be empty)")
    if parts.query or parts.fragment:
        raise ValueError("an s3:// URL takes no query or fragment")
    return parts.netloc, parts.path.strip("/")


def _no_bucket(exc: BaseException) -> bool:
    return "NoSuchBucket" in str(exc)


def _classify(exc: BaseException, location: S3Location, doing: str) -> StorageError:
    """One line naming the setting to fix; the client's own text (which may quote requests)
    is never passed on."""
    text = str(exc)
    where = location.describe()
    if isinstance(exc, FileNotFoundError) or "NoSuchBucket" in text:
        return StorageError(
            f"the bucket {location.bucket!r} does not exist at {location.endpoint or 'AWS'} "
            f"({doing}); create it, or fix the bucket in {URL_VAR}",
            setting=URL_VAR,
        )
    if "InvalidAccessKeyId" in text:
        return StorageError(
            f"{where} does not know this access key ({doing}); fix {KEY_VAR} "
            "(or AWS_ACCESS_KEY_ID)",
            setting=KEY_VAR,
        )
    if "SignatureDoesNotMatch" in text:
        return StorageError(
            f"{where} refused the request's signature ({doing}): the secret key does not "
            f"match the access key; fix {SECRET_VAR} (or AWS_SECRET_ACCESS_KEY)",
            setting=SECRET_VAR,
        )
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return StorageError(
            f"{where} refused these credentials ({doing}); check {KEY_VAR} and {SECRET_VAR} "
            "and the key's permissions on the bucket",
            setting=KEY_VAR,
        )
    return StorageUnavailable(
        f"cannot reach {where} ({doing}: {type(exc).__name__}); is the S3 server running, and "
        f"is {ENDPOINT_VAR} right?",
        setting=ENDPOINT_VAR,
    )


class S3Storage:
    """Objects under one bucket prefix; a local private folder holds large uploads in flight."""

    def __init__(self, location: S3Location, spill_dir: Path | None = None) -> None:
        self.location_info = location
        config: dict[str, object] = {"virtual_hosted_style_request": False}
        if location.endpoint:
            config["endpoint"] = location.endpoint
        if location.region:
            config["region"] = location.region
        elif location.endpoint:
            config["region"] = "us-east-1"  # S3-compatible servers take any region
        if location.access_key_id:
            config["access_key_id"] = location.access_key_id
        if location.secret_access_key:
            config["secret_access_key"] = location.secret_access_key
        self._store = S3Store(
            location.bucket,
            prefix=location.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options={
                "allow_http": bool(location.endpoint and location.endpoint.startswith("http:")),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(seconds=60),
            },
            # Fail over to the caller (a 503 with Retry-After) rather than hold an upload for
            # the client's default three minutes of retries.
            retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
        )
        self._spill_parent = spill_dir
        self._spill: Path | None = None

    @property
    def location(self) -> str:
        return self.location_info.describe()

    @property
    def quarantine_location(self) -> str:
        return f"{self.location}/{QUARANTINE_PREFIX}".replace("//", "/")

    def _spill_dir(self) -> Path:
        # Per process: replicas on one machine never remove each other's uploads in flight.
        if self._spill is None:
            if self._spill_parent is not None:
                self._spill_parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._spill = Path(tempfile.mkdtemp(prefix="jarvis-s3-", dir=self._spill_parent))
        return self._spill

    async def probe(self) -> None:
        """Write, read back and remove a small object: the bucket takes writes for real."""
        key = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
        try:
            await obstore.put_async(self._store, key, b"ok")
            got = await obstore.get_async(self._store, key)
            if bytes(await got.bytes_async()) != b"ok":
                raise StorageError(
                    f"{self.location} returned other bytes than were written",
                    setting=ENDPOINT_VAR,
                )
            await obstore.delete_async(self._store, key)
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "writing a probe object") from exc

    def begin(self) -> PendingFile:
        return PendingFile(self._spill_dir() / f"{secrets.token_hex(16)}.part")

    async def place(
        self,
        pending: PendingFile,
        capture_id: str,
        ext: str,
        when: datetime,
        verify: Verify | None = None,
    ) -> str:
        whole = await anyio.to_thread.run_sync(self._check, pending, verify)
        day = when.astimezone(UTC).strftime("%Y/%m/%d")
        key = f"{day}/{capture_id}.{secrets.token_hex(6)}.{ext}"
        try:
            await obstore.put_async(self._store, key, whole if whole is not None else pending.path)
        except _FAILURES as exc:
            # Whether the object landed is unknown: it has no row, and a later start
            # quarantines it once it is older than the crash window.
            raise _classify(exc, self.location_info, "storing an upload") from exc
        return key

    def _check(self, pending: PendingFile, verify: Verify | None) -> bytes | None:
        whole = pending._complete_sync()
        if verify is not None:
            try:
                problem = verify(whole if whole is not None else pending.path)
                if problem is not None:
                    raise RejectedFile(problem)
            except BaseException:
                pending._discard_sync()
                raise
        return whole

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            result = await obstore.get_async(self._store, key)
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "reading an image") from exc
        async for chunk in result.stream():
            yield chunk

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, key)
        except FileNotFoundError:
            # A HEAD's 404 has no body, so it cannot say NoSuchBucket: a bucket removed under a
            # running server would read as every image lost. A listing's error can say it.
            await self._bucket_answers(key, "looking up an image")
            return False
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "looking up an image") from exc
        return True

    async def _bucket_answers(self, prefix: str, doing: str) -> None:
        """Raise StorageError unless the bucket can be listed (one request: the prefix is a
        key that was just not found, so next to nothing is listed)."""
        try:
            await obstore.list(self._store, prefix, chunk_size=1).__anext__()
        except StopAsyncIteration:
            pass
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, doing) from exc

    async def delete(self, key: str) -> None:
        """Remove the object, and a quarantined copy: a reconciliation running while the
        capture is deleted may have listed the object after its row was gone and moved it."""
        try:
            await obstore.delete_async(self._store, [key, QUARANTINE_PREFIX + key])
        except FileNotFoundError as exc:
            if _no_bucket(exc):
                raise _classify(exc, self.location_info, "deleting an image") from exc
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "deleting an image") from exc

    async def put_object(self, key: str, data: bytes) -> None:
        """Store `data` under exactly `key` (copying a store in: keys are kept as they were)."""
        try:
            await obstore.put_async(self._store, key, data)
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "copying an object in") from exc

    async def get_object(self, key: str) -> bytes | None:
        """The whole object, or None when there is none under `key`."""
        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError as exc:
            if _no_bucket(exc):
                raise _classify(exc, self.location_info, "reading an object") from exc
            return None
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "reading an object") from exc

    async def keys(self) -> set[str]:
        return set((await self.scan()).files)

    async def _list(self, prefix: str | None) -> dict[str, float]:
        found: dict[str, float] = {}
        async for chunk in obstore.list(self._store, prefix, chunk_size=1000):
            for meta in chunk:
                found[meta["path"]] = meta["last_modified"].timestamp()
        return found

    async def scan(self) -> StorageScan:
        """Every object's key and time, read without changing anything; a bucket that does not
        exist scans as absent, one that cannot be read raises StorageError."""
        try:
            everything = await self._list(None)
        except _FAILURES as exc:
            if _no_bucket(exc):
                return StorageScan(exists=False, files={}, quarantined=frozenset(), loose=())
            raise _classify(exc, self.location_info, "listing the bucket") from exc
        files = {k: t for k, t in everything.items() if not k.startswith(_SPECIAL)}
        quarantined = frozenset(
            k.removeprefix(QUARANTINE_PREFIX) for k in everything if k.startswith(QUARANTINE_PREFIX)
        )
        return StorageScan(exists=True, files=files, quarantined=quarantined, loose=())

    async def _move(self, source: str, target: str) -> None:
        try:
            try:
                await obstore.head_async(self._store, target)
                stem, _, ext = target.rpartition(".")
                target = f"{stem}.{secrets.token_hex(4)}.{ext}"  # never replace: keep both
            except FileNotFoundError:
                pass
            # Copy first, delete second: a crash in between leaves two copies, never none.
            try:
                await obstore.copy_async(self._store, source, target)
            except FileNotFoundError as exc:
                if _no_bucket(exc):
                    raise
                return  # deleted meanwhile (its capture, on request): nothing left to move
            await obstore.delete_async(self._store, source)
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "moving an object") from exc

    async def quarantine(self, key: str) -> None:
        """Move an object no row lists under the quarantine prefix, same relative key."""
        await self._move(key, QUARANTINE_PREFIX + key)

    async def restore(self, key: str) -> None:
        await self._move(QUARANTINE_PREFIX + key, key)

    async def purge_quarantine(self) -> int:
        """Delete every quarantined object (only ever on the operator's explicit request)."""
        try:
            keys = sorted(await self._list(QUARANTINE_PREFIX))
            for start in range(0, len(keys), _DELETE_BATCH):
                await obstore.delete_async(self._store, keys[start : start + _DELETE_BATCH])
        except _FAILURES as exc:
            raise _classify(exc, self.location_info, "purging the quarantine") from exc
        return len(keys)

    async def purge_temp(self) -> int:
        """Nothing unfinished lives in the bucket: uploads in flight are local to a process
        (its own folder, removed by `close`)."""
        return 0

    def close(self) -> None:
        """Remove this process's local folder of uploads in flight."""
        if self._spill is not None:
            import shutil

            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None
