"""As a user sees it: the real console script on two "hosts" (each its own runtime,
config and state directories) in tmux, sharing one upstream through a real NATS server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from benchmarks.natsserver import NatsServer, nats_server_binary
from tests.hubhelp import short_runtime_dir
from tests.integration.test_tmux import SCRIPT, _capture, _wait_for

BINARY = nats_server_binary()
pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
    pytest.mark.skipif(BINARY is None, reason="nats-server is not installed"),
]


def _host(root: Path, name: str, broker: str) -> dict[str, str]:
    home = root / name
    (home / "state").mkdir(parents=True)
    config = home / "config.toml"
    config.write_text(
        f'[hub]\nbroker = "{broker}"\nhost_name = "{name}"\nlease_seconds = 5\n',
        encoding="utf-8",
    )
    return {
        "MARKETPANE_CONFIG": str(config),
        "MARKETPANE_STATE_DIR": str(home / "state"),
        "MARKETPANE_SECRETS": str(home / "secrets.toml"),
        "XDG_RUNTIME_DIR": str(short_runtime_dir(f"mp{name[:2]}")),
    }


def _hub(variables: dict[str, str], action: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tui", "hub", action, "--demo"],
        capture_output=True,
        text=True,
        env={**os.environ, **variables},
        timeout=20,
        check=False,
    ).stdout


@pytest.mark.long(9)
def test_two_hosts_in_tmux_one_leads_the_other_follows_then_takes_over(tmp_path: Path) -> None:
    """Two hosts' dashboards: the second says ``via leader on alpha`` and moves; when alpha's
    hub stops, beta's takes the lease at once and its pane says ``via hub``, still moving."""
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    assert BINARY is not None
    nats = NatsServer(BINARY, tmp_path)
    nats.start()
    alpha, beta = _host(tmp_path, "alpha", nats.url), _host(tmp_path, "beta", nats.url)
    session = f"mpf-{uuid.uuid4().hex[:8]}"

    def command(variables: dict[str, str]) -> str:
        env = " ".join(f"{k}={v}" for k, v in variables.items())
        return f"env -u COLUMNS -u LINES {env} {SCRIPT} --demo; sleep 30"

    try:
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "30", command(alpha)],
            check=True,
        )
        subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], check=False)
        subprocess.run(
            ["tmux", "resize-window", "-t", session, "-x", "200", "-y", "30"], check=False
        )
        left, right = f"{session}.0", f"{session}.1"
        _wait_for(left, "via hub", timeout=30)
        subprocess.run(["tmux", "split-window", "-h", "-t", session, command(beta)], check=True)
        _wait_for(right, "via leader on alpha", timeout=30)

        def btc(pane: str) -> str:  # crypto trades every day of the week
            return next((ln for ln in _capture(pane).splitlines() if "BTCUSDT " in ln), "")

        seen = {btc(right)}
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            seen.add(btc(right))
        assert len(seen) >= 3, seen  # the follower's prices move
        status = _hub(beta, "status")
        assert "this hub beta is follower" in status and "leader alpha since" in status, status
        assert "hub stopped" in _hub(alpha, "stop")
        _wait_for(right, "via hub", timeout=15)
        assert "this hub beta is leader" in _hub(beta, "status")
        seen = {btc(right)}
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            seen.add(btc(right))
        assert len(seen) >= 3, seen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        for variables in (alpha, beta):
            _hub(variables, "stop")
        nats.stop()
