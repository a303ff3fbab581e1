"""The real console script in tmux against the hostile server: no escape sequence from feed
data reaches the terminal (read raw with ``tmux pipe-pane``), and SIGHUP, SIGTERM and SIGINT
each close every socket with 1000, restore the terminal and exit with 128 + the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import RAW_OUTPUT_MARKERS, HostileServer, HostileThread
from tests.integration.test_tmux import SCRIPT, _capture, _wait_for, pytestmark  # noqa: F401


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    thread = HostileThread()
    server = thread.start()
    try:
        yield server
    finally:
        thread.stop()


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _start(session: str, home: Path, server: HostileServer, width: int, height: int) -> Path:
    """Run marketpane on the hostile server in a new tmux session; returns the raw log path."""
    env = {
        "MARKETPANE_CONFIG": home / "config.toml",
        "MARKETPANE_STATE_DIR": home / "state",
        "MARKETPANE_SECRETS": home / "secrets.toml",
        "INSIGHTSENTRY_API_KEY": "hostile-test-key",
        "STOCKNEWS_TOKEN": "hostile-test-token",
    }
    flags = (  # in-process: these cases are about this process's own sockets
        f"--no-hub --symbols NASDAQ:AAPL,NASDAQ:MSFT --live-url {server.url('/live')} "
        f"--newsfeed-url {server.url('/newsfeed')} --stocknews-url {server.url('/ws')} "
        f"--rest-url http://127.0.0.1:{server.port}"
    )
    variables = " ".join(f"{k}={v}" for k, v in env.items())
    command = f"env -u COLUMNS -u LINES {variables} {SCRIPT} {flags}; echo EXITED-$?; sleep 30"
    raw = home / "raw-output.log"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
    )
    _tmux("pipe-pane", "-o", "-t", session, f"cat >> {raw}")
    _tmux("set-option", "-t", session, "window-size", "manual")
    _tmux("resize-window", "-t", session, "-x", str(width), "-y", str(height))
    return raw


def _app_pid(session: str) -> int:
    """The marketpane process: the pane shell's child (``env`` execs the script)."""
    shell = _tmux("display", "-p", "-t", session, "#{pane_pid}").strip()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = subprocess.run(
            ["pgrep", "-P", shell], capture_output=True, text=True, check=False
        ).stdout.split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("marketpane never started")


@pytest.mark.parametrize(
    ("signum", "size"),
    [(signal.SIGHUP, (40, 15)), (signal.SIGTERM, (120, 30)), (signal.SIGINT, (80, 24))],
)
def test_signal_closes_sockets_restores_terminal_and_no_feed_escape_reaches_it(
    isolated_paths: Path, hostile_server: HostileServer, signum: int, size: tuple[int, int]
) -> None:
    """Raw terminal output holds no sequence from feed data; the signal
    ends the app with every socket closed with 1000, the terminal back from the alternate
    screen with mouse tracking off, and status 128 + signum."""
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    session = f"mp-{uuid.uuid4().hex[:8]}"
    width, height = size
    raw = _start(session, isolated_paths, hostile_server, width, height)
    try:
        _wait_for(session, "AAPL")
        _wait_for(session, "␛")  # hostile text is on screen, visibly escaped
        deadline = time.monotonic() + 10
        while len(hostile_server.close_codes) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # all three sockets open
        time.sleep(1.0)
        assert _tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        os.kill(_app_pid(session), signum)
        screen = _wait_for(session, "EXITED-", timeout=10)
        assert f"EXITED-{128 + signum}" in screen, screen
        assert "Traceback" not in screen
        flags = _tmux("display", "-p", "-t", session, "#{alternate_on} #{mouse_any_flag}")
        assert flags.split() == ["0", "0"], flags
        codes = {path: list(found) for path, found in hostile_server.close_codes.items()}
        assert set(codes) == {"/live", "/newsfeed", "/ws"}, codes
        assert all(code == 1000 for found in codes.values() for code in found), codes
        output = raw.read_bytes().decode("utf-8", "replace")
        assert output, "pipe-pane captured nothing"
        for marker in RAW_OUTPUT_MARKERS:
            assert marker not in output, marker
        assert "\x9b" not in output and "\u202e" not in output
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
