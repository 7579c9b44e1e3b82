"""Browser sessions of the timeline page: a random cookie, held server-side, tied to a token.

The page signs in with a device token once; the server answers with a session cookie (HttpOnly,
SameSite=Strict, Secure over https) and keeps only the cookie's SHA-256, the device and the hash
of the token it was made from. A session is honoured while that device still holds that token
(not revoked, not replaced) and until it expires, so it never outlives its token and every
replica sharing the database honours it. State changes made with the cookie also need the CSRF
token (derived from the cookie's secret, handed to the page by GET /api/v1/session) in a header
and an Origin of this server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_server.auth import Caller
from jarvis_server.models import Device, WebSession
from jarvis_server.records import utc

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "LiveSession",
    "NewSession",
    "csrf_token",
    "end_session",
    "find_session",
    "same_origin",
    "start_session",
]

SESSION_COOKIE: Final = "jarvis_session"
CSRF_HEADER: Final = "X-CSRF-Token"
_CSRF_CONTEXT: Final = b"jarvis csrf v1"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(secret: str) -> str:
    """The CSRF token of a session: only someone who holds the cookie's secret can compute it,
    and a page of another site can neither read the cookie nor this server's answers."""
    return hmac.new(secret.encode("utf-8"), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(secret: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_token(secret), sent)


def same_origin(origin: str | None, host: str | None) -> bool:
    """Whether the browser says the request comes from a page of this server (scheme aside:
    a TLS-terminating proxy may hand the request on as plain http)."""
    if not origin or not host or origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


@dataclass(frozen=True, slots=True)
class LiveSession:
    caller: Caller
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    secret: str
    expires_at: datetime


async def start_session(session: AsyncSession, device: Device, lifetime: timedelta) -> NewSession:
    """A new session for this device and its current token; expired sessions are swept."""
    now = datetime.now(UTC)
    secret = secrets.token_urlsafe(32)
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.add(
        WebSession(
            id_hash=_hash(secret),
            device_id=device.id,
            token_hash=device.token_hash,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.commit()
    return NewSession(secret=secret, expires_at=now + lifetime)


async def find_session(session: AsyncSession, secret: str) -> LiveSession | None:
    """A live session: not expired, its device still holding the same token."""
    now = datetime.now(UTC)
    row = (
        await session.execute(
            select(Device, WebSession.expires_at)
            .join(WebSession, WebSession.device_id == Device.id)
            .where(
                WebSession.id_hash == _hash(secret),
                WebSession.expires_at > now,
                WebSession.token_hash == Device.token_hash,
                Device.revoked_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    device, expires_at = row
    caller = Caller(
        device_id=device.id, device=device.name, admin=device.admin, token_hash=device.token_hash
    )
    return LiveSession(caller, utc(expires_at))


async def end_session(session: AsyncSession, secret: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == _hash(secret)))
    await session.commit()
