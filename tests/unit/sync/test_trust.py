"""The trust rule for server addresses, the kernel socket table reader and the identity key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jarvis_sync import IdentityKeyError
from jarvis_sync.trust import (
    insecure_remote,
    listener_uids,
    load_identity_key,
    owner_problem,
    url_problem,
)

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"


def _row(address: str, state: str, uid: int) -> str:
    return f"   0: {address} 00000000:0000 {state} 0:0 00:0 00000000 {uid:>5} 0 1 1 0\n"


@pytest.mark.parametrize(
    "url",
    [
        "https://jarvis.example.com",
        "https://192.168.1.5:8443",
        "http://127.0.0.1:8765",
        "http://127.8.9.10",
        "http://localhost:8765",
        "http://[::1]:8765",
    ],
)
def test_https_anywhere_and_http_to_this_computer_pass(url: str) -> None:
    """https to any host and plain http to loopback need no opt-in."""
    assert url_problem(url) is None
    assert not insecure_remote(url)


@pytest.mark.parametrize(
    "url",
    ["http://example.org", "http://192.168.1.5:8765", "http://[fe80::1]:80", "http://0.0.0.0"],
)
def test_plain_http_elsewhere_needs_the_named_opt_in(url: str) -> None:
    """Plain http to another host is refused with the fix; the opt-in lets it through."""
    problem = url_problem(url)
    assert problem is not None
    assert "https://" in problem
    assert "server.allow_insecure_http" in problem
    assert url_problem(url, allow_insecure_http=True) is None
    assert insecure_remote(url)


def test_socket_table_names_the_owners_of_loopback_and_wildcard_listeners(tmp_path: Path) -> None:
    """LISTEN rows on 127.0.0.1, 0.0.0.0 and :: count for the port; other states, ports and
    non-loopback addresses do not."""
    (tmp_path / "tcp").write_text(
        HEADER
        + _row("0100007F:2245", "0A", 1001)  # 127.0.0.1:8773 listening
        + _row("00000000:2245", "0A", 1002)  # 0.0.0.0:8773 listening
        + _row("0502A8C0:2245", "0A", 1003)  # 192.168.2.5:8773: not reached over loopback
        + _row("0100007F:2245", "01", 1004)  # established, not listening
        + _row("0100007F:2246", "0A", 1005)  # another port
    )
    (tmp_path / "tcp6").write_text(HEADER + _row("0" * 32 + ":2245", "0A", 1006))  # [::]:8773
    assert listener_uids(8773, proc_net=tmp_path) == {1001, 1002, 1006}
    assert listener_uids(9999, proc_net=tmp_path) == set()
    assert listener_uids(8773, proc_net=tmp_path / "missing") is None


def test_owner_problem_names_another_users_uid() -> None:
    """Another uid on the port is named; this user's own listener is fine."""
    mine = os.getuid()
    assert owner_problem(8765, {mine}) is None
    problem = owner_problem(8765, {mine, mine + 4242})
    assert problem is not None
    assert f"uid {mine + 4242}" in problem
    assert "nothing listens" in (owner_problem(8765, set()) or "")


def test_identity_key_is_made_private_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    """The key is created 0600 and read back; a copy readable by others is refused."""
    path = tmp_path / "data" / "server-identity.key"
    key = load_identity_key(path, create=True)
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_identity_key(path) == key
    path.chmod(0o644)
    with pytest.raises(IdentityKeyError, match="readable by other users"):
        load_identity_key(path)
    with pytest.raises(IdentityKeyError, match="no identity key"):
        load_identity_key(tmp_path / "absent.key")
