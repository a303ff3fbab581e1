"""Where a hub lives and whom it serves: one per user and account, named by a hash.

The socket is ``$XDG_RUNTIME_DIR/marketpane/hub-<account>.sock`` (else in the state
directory), the directory 0700 and the socket 0600. The account is a hash of the key and the
endpoints, never the key itself; the demo's account is ``demo``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tui import paths
from tui.config import Config
from tui.secrets import Keys


def account_id(config: Config, keys: Keys, *, demo: bool) -> str:
    """A short hash naming the account (key and endpoints): equal for every pane of it."""
    if demo:
        plan = config.plan
        return f"demo-{plan.name}-{plan.subscriptions}"
    key = keys.insightsentry_api_key or keys.insightsentry_rapidapi_key
    secret = key.reveal() if key is not None else ""
    endpoints = config.endpoints
    text = "|".join((secret, endpoints.live_url, endpoints.rest_url, endpoints.newsfeed_url))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SOCKET_PATH_MAX = 100
"""A Unix socket's path must fit ``sun_path`` (108 bytes on Linux, 104 elsewhere)."""
ACCOUNT_MAX = 24
"""The longest account name (a 16-character hash, or ``demo-<plan>-<n>``)."""


def hub_dir() -> Path:
    """The directory for hub sockets and locks (made 0700): ``$XDG_RUNTIME_DIR/marketpane``,
    else the state directory; a directory whose socket paths would be too long for
    ``sun_path`` is replaced by ``<tmp>/marketpane-<uid>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "marketpane" if runtime else paths.state_dir() / "hub"
    if len(os.fsencode(base)) + len("/hub-.sock") + ACCOUNT_MAX > SOCKET_PATH_MAX:
        base = Path(tempfile.gettempdir()) / f"marketpane-{os.getuid()}"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if base.stat().st_uid != os.getuid():
        raise PermissionError(f"{base} belongs to another user; set XDG_RUNTIME_DIR")
    os.chmod(base, 0o700)
    return base


@dataclass(frozen=True)
class HubPlace:
    """The files of one account's hub."""

    account: str
    directory: Path

    @property
    def socket(self) -> Path:
        return self.directory / f"hub-{self.account}.sock"

    @property
    def lock(self) -> Path:
        return self.directory / f"hub-{self.account}.lock"

    @property
    def log(self) -> Path:
        return paths.state_dir() / f"hub-{self.account}.log"


def place_for(account: str) -> HubPlace:
    """The hub files for ``account``."""
    return HubPlace(account, hub_dir())


_PEERCRED = struct.Struct("3i")
"""``struct ucred``: pid, uid, gid."""


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux ``SO_PEERCRED``), or
    None where the platform cannot say."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, option, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return int(uid)
