"""The command line: flags parse, bad flags and bad config exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli.main import main, parse_run_options


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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--record", "/no/such/folder/rec.jsonl"], "--record: folder /no/such/folder does not"),
        (["--log", "/no/such/folder/app.log"], "--log: folder /no/such/folder does not exist"),
        (["--theme", "nope"], "--theme: no theme 'nope'"),
        (["--plan", "gigantic"], "invalid choice"),
    ],
)
def test_bad_paths_and_names_exit_2_before_the_ui(
    argv: list[str], expected: str, isolated_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with one line before the UI starts, and no folder made anywhere."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not Path("/no/such").exists()


def test_plan_flag_sets_the_limits(isolated_paths: Path) -> None:
    options = parse_run_options(["--demo", "--plan", "mega"])
    assert (options.config.plan.name, options.config.plan.subscriptions) == ("mega", 12)
    assert parse_run_options(["--demo"]).config.plan.subscriptions == 2  # the smallest


def test_config_check_takes_config_after_the_action(
    tmp_path: Path, isolated_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text('active_watchlist = "default"\n')
    assert main(["config", "check", "--config", str(good)]) == 0
    assert f"config {good}: ok" in capsys.readouterr().out
    assert main(["config", "--config", str(good), "check"]) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[display]\ntheme = 'x'\nup_color = \"banana\"\n", ":3: display.up_color: 'banana'"),
        ('[display]\n\ndown_color = "#12"\n', ":3: display.down_color"),
        ("[display\ntheme = 1\n", ":1: not valid TOML"),
    ],
)
def test_config_errors_name_the_line(
    text: str,
    expected: str,
    tmp_path: Path,
    isolated_paths: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["config", "check", "--config", str(path)])
    assert info.value.code == 2
    assert expected in capsys.readouterr().err


def test_hub_status_without_a_hub_says_so(
    isolated_paths: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert main(["hub", "status", "--demo"]) == 1
    err = capsys.readouterr().err
    assert "no hub answers" in err and len(err.strip().splitlines()) == 1


def test_hub_flags_choose_the_mode(isolated_paths: Path) -> None:
    assert parse_run_options(["--demo"]).hub_mode == "auto"  # the default: share a hub
    assert parse_run_options(["--demo", "--hub"]).hub_mode == "auto"
    (isolated_paths / "config.toml").write_text('[hub]\nmode = "require"\n')
    assert parse_run_options(["--demo"]).hub_mode == "require"
    assert parse_run_options(["--demo", "--no-hub"]).hub_mode == "off"


def test_record_with_a_hub_goes_through_the_hub(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--hub --record FILE`` keeps the hub: the pane's hello asks the hub to record to the
    file's absolute path (no connection of its own)."""
    from tui.cli.launch import hub_session
    from tui.hub import client
    from tui.hub.wire import Hello

    hellos: list[Hello] = []
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(client, "ensure_hub", lambda place, serve, **_: False)
    monkeypatch.setattr(client, "check_hello", lambda place, hello: hellos.append(hello))
    monkeypatch.chdir(tmp_path)
    options = parse_run_options(["--demo", "--hub", "--record", "rec.jsonl"])
    assert options.hub_mode == "auto" and options.record is not None
    session = hub_session(options)
    assert [h.record for h in hellos] == [str(tmp_path / "rec.jsonl")]
    assert session.hello.record == str(tmp_path / "rec.jsonl")


def test_a_reader_that_goes_away_ends_the_command_quietly(isolated_paths: Path) -> None:
    """``marketpane config path | head -0``: the pipe is closed before anything is written;
    the command exits 141 with nothing on stderr (no BrokenPipe traceback)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "config", "path"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the command prints
    code = process.wait(30)
    said = process.stderr.read().decode()
    assert code == 141 and said == "", (code, said)
