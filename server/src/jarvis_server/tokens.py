"""Device tokens: made with `secrets`, stored only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_server.models import Device

TOKEN_PREFIX: Final = "jv_"  # noqa: S105 - a public prefix, not a secret


def new_token() -> str:
    """A fresh token: 256 bits from the OS's CSPRNG, with a prefix that secret scanners spot."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 cannot be brute-forced: no salt or KDF.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def find_device(session: AsyncSession, token: str) -> Device | None:
    """The device this token belongs to, or None."""
    digest = hash_token(token)
    device = await session.scalar(select(Device).where(Device.token_hash == digest))
    if device is None or not hmac.compare_digest(device.token_hash, digest):
        return None
    return device


@dataclass(frozen=True, slots=True)
class IssuedToken:
    device: str
    token: str
    replaced: bool


async def issue_token(session: AsyncSession, name: str, *, admin: bool) -> IssuedToken:
    """Create a device with a new token, or give an existing device a new one (old one stops)."""
    token = new_token()
    now = datetime.now(UTC)
    device = await session.scalar(select(Device).where(Device.name == name))
    replaced = device is not None
    if device is None:
        device = Device(name=name, token_hash=hash_token(token), admin=admin, created_at=now)
        session.add(device)
    else:
        device.token_hash = hash_token(token)
        device.admin = admin
        device.revoked_at = None
    await session.commit()
    return IssuedToken(device=name, token=token, replaced=replaced)


async def revoke_device(session: AsyncSession, name: str) -> bool:
    """Mark a device revoked; False when there is no such device."""
    device = await session.scalar(select(Device).where(Device.name == name))
    if device is None:
        return False
    if device.revoked_at is None:
        device.revoked_at = datetime.now(UTC)
        await session.commit()
    return True


async def list_devices(session: AsyncSession) -> list[Device]:
    return list(await session.scalars(select(Device).order_by(Device.name)))
