"""The device token and the outbox key, kept in the OS keyring (service "jarvis").

Nothing here writes a secret to a file, a log or an exception message. When no keyring backend
works the error names the fix. Headless servers without a keyring may opt in to a plaintext file
(mode 0600) by setting JARVIS_SECRETS_FILE or calling `use_secrets_file`; there is no silent
fallback.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from pathlib import Path
from typing import Final

import keyring
import keyring.errors

from jarvis_sync._files import write_durably
from jarvis_sync.cipher import KEY_BYTES, new_key
from jarvis_sync.errors import CredentialsError, KeyringUnavailableError

SERVICE: Final = "jarvis"
TOKEN_ENTRY: Final = "device-token"  # noqa: S105 - the keyring entry name, not a secret
OUTBOX_KEY_ENTRY: Final = "outbox-key"
SECRETS_FILE_ENV: Final = "JARVIS_SECRETS_FILE"
MAX_TOKEN_LENGTH: Final = 4096

_FIX: Final = (
    "Start and unlock your desktop's keyring (GNOME Keyring, KWallet or KeePassXC with Secret "
    "Service) and try again; on a headless machine without one, opt in to a plaintext secrets "
    f"file readable only by you by setting {SECRETS_FILE_ENV}=/path/to/secrets.json"
)

_lock = threading.Lock()
_secrets_file: Path | None = None


def use_secrets_file(path: Path | None) -> None:
    """Opt in to (or, with None, out of) the plaintext secrets file instead of the keyring."""
    global _secrets_file
    with _lock:
        _secrets_file = path


def _file_backend() -> Path | None:
    if _secrets_file is not None:
        return _secrets_file
    value = os.environ.get(SECRETS_FILE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _read_file(path: Path) -> dict[str, str]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialsError(f"cannot read the secrets file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CredentialsError(
            f"the secrets file {path} is not valid JSON; delete it and log in again"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CredentialsError(f"the secrets file {path} is malformed; delete it and log in again")
    return {str(k): v for k, v in data.items()}


def _write_file(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_durably(path, json.dumps(data).encode(), temp_dir=path.parent)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise CredentialsError(f"cannot write the secrets file {path}: {exc.strerror}") from exc


def _unavailable(exc: BaseException) -> KeyringUnavailableError:
    backend = type(keyring.get_keyring()).__module__
    return KeyringUnavailableError(
        f"no working OS keyring ({backend}: {type(exc).__name__}). {_FIX}"
    )


def _get(entry: str) -> str | None:
    path = _file_backend()
    if path is not None:
        with _lock:
            return _read_file(path).get(entry)
    try:
        return keyring.get_password(SERVICE, entry)
    except keyring.errors.NoKeyringError as exc:
        raise _unavailable(exc) from exc
    except (keyring.errors.KeyringError, RuntimeError) as exc:
        raise _unavailable(exc) from exc


def _set(entry: str, value: str) -> None:
    path = _file_backend()
    if path is not None:
        with _lock:
            data = _read_file(path)
            data[entry] = value
            _write_file(path, data)
        return
    try:
        keyring.set_password(SERVICE, entry, value)
    except (keyring.errors.KeyringError, RuntimeError) as exc:
        raise _unavailable(exc) from exc


def _delete(entry: str) -> None:
    path = _file_backend()
    if path is not None:
        with _lock:
            data = _read_file(path)
            if data.pop(entry, None) is not None:
                _write_file(path, data)
        return
    try:
        keyring.delete_password(SERVICE, entry)
    except keyring.errors.PasswordDeleteError:
        return  # nothing stored: already logged out
    except (keyring.errors.KeyringError, RuntimeError) as exc:
        raise _unavailable(exc) from exc


def check_token(token: str) -> str:
    """`token` stripped of surrounding whitespace; CredentialsError when it cannot be a token."""
    value = token.strip()
    if not value:
        raise CredentialsError("the token is empty; paste the device token the server gave you")
    if len(value) > MAX_TOKEN_LENGTH:
        raise CredentialsError(
            f"the token is {len(value)} characters long, more than {MAX_TOKEN_LENGTH}; "
            "check that you pasted only the token"
        )
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise CredentialsError(
            "the token contains spaces or control characters; paste only the token itself"
        )
    return value


def load_token() -> str | None:
    """The device token, or None when not logged in."""
    return _get(TOKEN_ENTRY)


def store_token(token: str) -> None:
    """Keep the device token in the keyring (replacing any previous one)."""
    _set(TOKEN_ENTRY, check_token(token))


def delete_token() -> None:
    """Forget the device token; no error when none was stored."""
    _delete(TOKEN_ENTRY)


def outbox_key() -> bytes:
    """The outbox's AES-256 key; generated and stored on first use."""
    stored = _get(OUTBOX_KEY_ENTRY)
    if stored is not None:
        try:
            key = base64.b64decode(stored, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) == KEY_BYTES:
            return key
        raise CredentialsError(
            "the outbox key in the keyring is malformed; delete the keyring entry "
            f"'{SERVICE}/{OUTBOX_KEY_ENTRY}' (queued captures sealed with it will be quarantined)"
        )
    key = new_key()
    _set(OUTBOX_KEY_ENTRY, base64.b64encode(key).decode("ascii"))
    return key
