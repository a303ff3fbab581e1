"""The command line: flags parse, bad flags and bad config exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main, parse_run_options


def test_flags_parse_and_no_key_means_demo() -> None:
    options = parse_run_options(["--symbols", "nasdaq:aapl,NYSE:IBM", "--live-url", "ws://x/live"])
    assert options.symbols == ["NASDAQ:AAPL", "NYSE:IBM"]
    assert options.config.endpoints.live_url == "ws://x/live"
    assert options.demo


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--bogus"], "unrecognized arguments"),
        (["--symbols", "AAPL"], "EXCHANGE:SYMBOL"),
        (["--live-url", "ftp://x"], "not a ws(s)://"),
    ],
)
def test_bad_flags_exit_2_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1


def test_bad_config_exit_2(isolated_paths: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated_paths / "config.toml").write_text("[display]\nnope = 1\n")
    with pytest.raises(SystemExit) as info:
        main(["config", "check"])
    assert info.value.code == 2
    assert "config.toml:2: display.nope: unknown setting" in capsys.readouterr().err


def test_config_path_and_check(isolated_paths: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == 0
    assert str(isolated_paths / "config.toml") in capsys.readouterr().out
    assert main(["config", "check"]) == 0
    assert "embedded simulator" in capsys.readouterr().out


def test_console_script_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("marketpane ")
