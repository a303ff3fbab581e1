"""Exactly one hub per account: the running hub holds a lock on ``hub-<account>.pid``.

Whoever starts a hub (``marketpane hub serve`` by hand, or a pane starting one for itself), the
new process first takes an exclusive, non-blocking ``flock`` on the account's pid file and
holds it for its whole life; the kernel drops it when the process ends, however it ends, so a
hub killed with -9 never blocks the next. A hub that cannot take the lock, or finds something
answering on the socket, refuses to start and names the running hub's pid: no socket someone
answers on is ever unlinked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from tui.hub.place import HubPlace

TAKEN_EXIT = 2
"""``marketpane hub serve``'s exit status when another hub serves the account."""


class HubTaken(Exception):
    """Another hub already serves this account; the text names its pid."""


def hub_alive(path: Path) -> bool:
    """Whether something accepts connections on the hub socket."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def pid_path(place: HubPlace) -> Path:
    """The file the running hub locks and writes its pid to."""
    return place.directory / f"hub-{place.account}.pid"


def running_pid(place: HubPlace) -> int | None:
    """The pid the running hub wrote, if the file says one."""
    with contextlib.suppress(OSError, ValueError):
        return int(pid_path(place).read_text(encoding="ascii").strip() or "x")
    return None


def claim(place: HubPlace) -> IO[str]:
    """Take the account's hub lock for this process (keep the handle open while serving).

    Raises :class:`HubTaken` when another hub holds it or answers on the socket, and
    ``OSError`` when the hub directory cannot be written."""
    fd = os.open(pid_path(place), os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise HubTaken(_taken_text(place, running_pid(place))) from None
    except BaseException:
        handle.close()
        raise
    if hub_alive(place.socket):  # a hub of a version before this lock
        handle.close()
        raise HubTaken(_taken_text(place, None))
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _taken_text(place: HubPlace, pid: int | None) -> str:
    who = f"pid {pid}" if pid is not None else f"on {place.socket}"
    return (
        f"a hub already serves this account ({who}); "
        "see it with `marketpane hub status`, stop it with `marketpane hub stop`"
    )


def unwritable(exc: OSError, where: Path) -> str:
    """An ``OSError`` from the hub's files in words a user can act on."""
    name = exc.filename or where
    return f"{name}: {exc.strerror or exc} (make it writable, or run with --no-hub)"
