"""Run the real ``marketpane`` console script in tmux, as a user would, and read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.hubhelp import short_runtime_dir

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
]

SCRIPT = Path(sys.executable).with_name("marketpane")
"""The console script installed beside this interpreter."""


def _capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    ).stdout


def _wait_for(session: str, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _capture(session)
        if needle in screen:
            return screen
        time.sleep(0.2)
    size = subprocess.run(
        ["tmux", "display", "-p", "-t", session, "#{window_width}x#{window_height}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    raise AssertionError(f"{needle!r} never appeared in a {size.strip()} pane:\n{screen}")


@pytest.mark.parametrize(
    ("width", "height", "needles"),
    [
        (80, 24, ("default", "Chg%", "DEMO", "│", "pro 2/2")),  # the watchlist's name
        (40, 15, ("default", "30m", "live", "DEMO")),  # the badge at the narrowest size
    ],
)
def test_console_script_in_tmux(
    isolated_paths: Path, width: int, height: int, needles: tuple[str, ...]
) -> None:
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    session = f"mp-{uuid.uuid4().hex[:8]}"
    env = " ".join(
        f"{k}={v}"
        for k, v in {
            "MARKETPANE_CONFIG": isolated_paths / "config.toml",
            "MARKETPANE_STATE_DIR": isolated_paths / "state",
            "MARKETPANE_SECRETS": isolated_paths / "secrets.toml",
            "XDG_RUNTIME_DIR": short_runtime_dir(),  # its own hub
        }.items()
    )
    # -u COLUMNS -u LINES: the test runner's environment may carry a fixed size, and Textual
    # (like Rich) believes those variables over the terminal.
    command = f"env -u COLUMNS -u LINES {env} {SCRIPT} --demo; echo EXITED-$?; sleep 30"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
    )
    # Pin the size: a tmux server started by an earlier test may hand the pane another size.
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], check=False)
    subprocess.run(
        ["tmux", "resize-window", "-t", session, "-x", str(width), "-y", str(height)], check=False
    )
    try:
        screen = _wait_for(session, needles[0])
        for needle in needles[1:]:
            screen = _wait_for(session, needle)
        _wait_for(session, "BTCUSDT")
        time.sleep(1.5)
        screen = _capture(session)
        assert "Traceback" not in screen
        lines = screen.splitlines()
        assert all(len(line) <= width for line in lines)
        prices = [line for line in lines if "BTCUSDT" in line]
        assert prices and any(ch.isdigit() for ch in prices[0])
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert "EXITED-0" in _wait_for(session, "EXITED-", timeout=15)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        subprocess.run(  # the pane ran through a hub (the default): stop it
            f"env {env} {sys.executable} -m tui hub stop --demo",
            shell=True,
            capture_output=True,
            timeout=20,
            check=False,
        )


def test_two_panes_share_one_hub_in_tmux(isolated_paths: Path, tmp_path: Path) -> None:
    """Two panes of the real console script in one tmux window, one hub; one pane
    closed (SIGHUP, as a dropped SSH session), the other still live."""
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    runtime = short_runtime_dir()  # a short socket path
    session = f"mp-{uuid.uuid4().hex[:8]}"
    variables = {
        "MARKETPANE_CONFIG": isolated_paths / "config.toml",
        "MARKETPANE_STATE_DIR": isolated_paths / "state",
        "MARKETPANE_SECRETS": isolated_paths / "secrets.toml",
        "XDG_RUNTIME_DIR": runtime,
    }
    env = " ".join(f"{k}={v}" for k, v in variables.items())
    base = f"env -u COLUMNS -u LINES {env} {SCRIPT} --demo --hub --plan mega"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "30", base + "; sleep 30"],
        check=True,
    )
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], check=False)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", "160", "-y", "30"], check=False)
    second = base + " --symbols BINANCE:BTCUSDT,BINANCE:ETHUSDT; sleep 30"
    subprocess.run(["tmux", "split-window", "-h", "-t", session, second], check=True)
    hub_env = {**os.environ, **{k: str(v) for k, v in variables.items()}}
    try:
        left, right = f"{session}.0", f"{session}.1"
        _wait_for(left, "BTCUSDT")
        _wait_for(right, "ETHUSDT")

        def price_lines(pane: str) -> list[str]:
            return [ln for ln in _capture(pane).splitlines() if "BTCUSDT" in ln and "," in ln]

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (price_lines(left) and price_lines(right)):
            time.sleep(0.3)
        assert price_lines(left) and price_lines(right)
        _wait_for(left, "via hub")  # (a pending change, shown first, may hold it back a moment)
        _wait_for(right, "via hub")
        done = subprocess.run(
            [sys.executable, "-m", "tui", "hub", "status", "--demo", "--plan", "mega"],
            capture_output=True,
            text=True,
            env=hub_env,
            timeout=20,
            check=False,
        )
        status = done.stdout
        assert "panes 2" in status, (done.stderr, _capture(left), _capture(right))
        subprocess.run(["tmux", "kill-pane", "-t", right], check=True)  # SIGHUP to that pane
        time.sleep(1.5)
        status = subprocess.run(
            [sys.executable, "-m", "tui", "hub", "status", "--demo", "--plan", "mega"],
            capture_output=True,
            text=True,
            env=hub_env,
            timeout=20,
            check=False,
        ).stdout
        assert "panes 1" in status and "live live" in status, status
        seen = {tuple(price_lines(f"{session}.0"))}
        deadline = time.monotonic() + 15
        while len(seen) < 2 and time.monotonic() < deadline:  # the left pane still moves
            time.sleep(0.5)
            seen.add(tuple(price_lines(f"{session}.0")))
        assert len(seen) >= 2, seen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        subprocess.run(
            [sys.executable, "-m", "tui", "hub", "stop", "--demo", "--plan", "mega"],
            capture_output=True,
            env=hub_env,
            timeout=20,
            check=False,
        )


def test_alert_reaches_tmux_display_message_and_runs_nothing(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """An alert's tmux channel shows on the status line of the client attached to
    the pane's session (a second tmux session attaches one, as a user's terminal would); a
    ``#(...)`` in its text is shown, not run. The pane runs through its hub, which inherited
    the pane's tmux environment and fires the alert."""
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    from tui.alerts.model import AlertDelivery, AlertRule
    from tui.config import Config, save_config

    runtime = short_runtime_dir()
    pwned = runtime / "p"  # a short path: the status line shows it whole
    config = Config()
    config.alerts = [
        AlertRule(id="1", when="BINANCE:BTCUSDT > 1", note=f"#(touch {pwned}) #{{pane_id}}")
    ]
    config.alert_delivery = AlertDelivery(notice=False, bell=False, tmux=True)
    save_config(config, isolated_paths / "config.toml")
    env = " ".join(
        f"{k}={v}"
        for k, v in {
            "MARKETPANE_CONFIG": isolated_paths / "config.toml",
            "MARKETPANE_STATE_DIR": isolated_paths / "state",
            "MARKETPANE_SECRETS": isolated_paths / "secrets.toml",
            "XDG_RUNTIME_DIR": runtime,
        }.items()
    )
    session, viewer = f"mp-{uuid.uuid4().hex[:8]}", f"mpv-{uuid.uuid4().hex[:8]}"
    command = f"sleep 2; env -u COLUMNS -u LINES {env} {SCRIPT} --demo; sleep 30"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "24", command], check=True
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", viewer, "-x", "200", "-y", "28",
         f"env -u TMUX tmux attach -t {session}"],
        check=True,
    )  # fmt: skip
    try:
        screen = _wait_for(viewer, "Alert 1: BINANCE:BTCUSDT", timeout=30)
        assert f"#(touch {pwned}) #{{pane_id}}" in screen.replace("\n", "")
        assert not pwned.exists()
    finally:
        for name in (viewer, session):
            subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)
        subprocess.run(
            f"env {env} {sys.executable} -m tui hub stop --demo",
            shell=True,
            capture_output=True,
            timeout=20,
            check=False,
        )
