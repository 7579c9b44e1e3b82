"""Which servers may receive the device token and captures; decided before a byte is sent.

The rule (DESIGN: "a token or a capture goes only to a server the agent can trust"):

- https:// to any host;
- plain http:// to this computer (loopback) only, and there only to a listener that is this
  user's own: on Linux the kernel's socket table names the uid that owns the listening socket
  (/proc/net/tcp, tcp6); where that table cannot be read, the server must answer a challenge with
  the user's identity key (a 0600 file `jarvis up` hands to the server it starts);
- plain http:// to another host only with the named opt-in `server.allow_insecure_http`, which
  `jarvis doctor` and the tray show as a warning.

Every "problem" here is a sentence for the user (what is wrong, what to do) or None when the
destination may be trusted. None of them contains a token. Nothing here talks to the server:
`jarvis_sync.client` applies these rules before each request that carries the token.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pydantic import ValidationError

from jarvis_contract import (
    IDENTITY_KEY_BYTES,
    IdentityProof,
    identity_proof,
    read_identity_key_text,
)
from jarvis_sync.errors import IdentityKeyError

__all__ = [
    "INSECURE_HTTP_OPTION",
    "insecure_remote",
    "is_loopback_http",
    "listener_uids",
    "load_identity_key",
    "new_nonce",
    "owner_problem",
    "proof_problem",
    "unknown_owner_problem",
    "url_problem",
]

INSECURE_HTTP_OPTION: Final = "server.allow_insecure_http"
_LISTEN: Final = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column
_PROC_NET: Final = Path("/proc/net")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_http(url: str) -> bool:
    """Plain http to this computer (127.0.0.0/8, ::1, localhost)."""
    return urlsplit(url).scheme.lower() == "http" and _is_loopback_host(_host(url))


def insecure_remote(url: str | None) -> bool:
    """Plain http to another computer: the token and captures would cross a network unencrypted."""
    if not url:
        return False
    return urlsplit(url).scheme.lower() == "http" and not _is_loopback_host(_host(url))


def url_problem(url: str, *, allow_insecure_http: bool = False) -> str | None:
    """Why `url` may not receive a token (None: https, loopback http, or opted in). Pure."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return None
    if scheme != "http":
        return f"{url!r} is not an http:// or https:// URL"
    if _is_loopback_host(_host(url)) or allow_insecure_http:
        return None
    return (
        f"plain http would send the device token and every capture unencrypted to "
        f"{_host(url)}; use an https:// address, or, on a network you trust, opt in with "
        f"`jarvis config set {INSECURE_HTTP_OPTION} true` (or `jarvis login "
        "--allow-insecure-http`)"
    )


# --- who owns a local listener ---------------------------------------------------------------


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host byte order (little-endian here).
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return ipaddress.IPv4Address(words)
    return ipaddress.IPv6Address(words)


def _reaches_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def listener_uids(port: int, *, proc_net: Path = _PROC_NET) -> set[int] | None:
    """The uids owning sockets that listen on `port` on loopback or all addresses.

    None when the kernel's table cannot be read (not Linux, or /proc not mounted).
    """
    if not hasattr(os, "getuid"):
        return None
    found: set[int] = set()
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc_net / name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] != _LISTEN:
                continue
            address, _, hex_port = fields[1].partition(":")
            with contextlib.suppress(ValueError):
                if int(hex_port, 16) == port and _reaches_loopback(_address(address)):
                    found.add(int(fields[7]))
    return found if readable else None


def owner_problem(port: int, uids: set[int]) -> str | None:
    """Why the listeners `uids` on loopback `port` are not this user's server (None: they are)."""
    if not uids:
        return f"cannot connect to the server: nothing listens on port {port} of this computer"
    strangers = sorted(uids - {os.getuid()})
    if strangers:
        who = ", ".join(str(uid) for uid in strangers)
        return (
            f"port {port} on this computer is held by another user's program (uid {who}), "
            "not by your Jarvis server; it was sent nothing"
        )
    return None


# --- the identity key and the challenge -------------------------------------------------------


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise IdentityKeyError(f"the identity key {path} is not a regular file; delete it")
    if sys.platform != "win32":
        if info.st_uid != os.getuid():
            raise IdentityKeyError(
                f"the identity key {path} belongs to uid {info.st_uid}, not to you; delete it"
            )
        if info.st_mode & 0o077:
            raise IdentityKeyError(
                f"the identity key {path} is readable by other users (mode "
                f"{stat.S_IMODE(info.st_mode):o}); delete it, and `jarvis up` makes a new one"
            )


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = secrets.token_hex(IDENTITY_KEY_BYTES).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_identity_key(path: Path, *, create: bool = False) -> bytes:
    """The user's identity key from `path` (made, 0600, when `create` and missing).

    Refuses a file that is not the user's own or that others can read: a key they can read
    proves nothing.
    """
    if create and not path.exists():
        _create_key(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise IdentityKeyError(
            f"no identity key at {path}; `jarvis up` creates it when it starts a local server"
        ) from None
    except OSError as exc:
        raise IdentityKeyError(f"cannot read the identity key {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        _check_private(path, os.fstat(handle.fileno()))
        key = read_identity_key_text(handle)
    if key is None:
        raise IdentityKeyError(f"the identity key {path} is damaged; delete it")
    return key


def new_nonce() -> str:
    """A fresh random challenge for the identity check (all that is sent to find out)."""
    return secrets.token_hex(32)


def proof_problem(key: bytes, port: int, nonce: str, status: int, body: bytes) -> str | None:
    """Why the reply (`status`, `body`) to the challenge `nonce` is no proof that the server on
    loopback `port` holds `key` (None: it is). Pure; `jarvis_sync.client` asks the question."""
    try:
        proof = IdentityProof.model_validate_json(body).proof
    except ValidationError:
        proof = ""
    if status != 200 or not hmac.compare_digest(proof, identity_proof(key, port, nonce)):
        return (
            f"the program on port {port} could not prove it is your Jarvis server "
            "(it does not hold your identity key); it was sent nothing"
        )
    return None


def unknown_owner_problem(port: int) -> str:
    """Said when nothing can show who listens on loopback `port` (no socket table, no key)."""
    return (
        f"cannot tell who listens on port {port} of this computer; start the local server "
        "with `jarvis up` (it proves itself with your identity key), or use an https:// address"
    )
