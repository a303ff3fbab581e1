"""Config file: clear errors naming file, line and key; atomic writes that lose nothing."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from tui.config import Config, ConfigError, WatchSymbol, load_config, save_config


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config, existed = load_config(tmp_path / "none.toml")
    assert not existed and config.watchlist().symbols


def test_unknown_key_names_file_line_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", 'active_watchlist = "default"\n[display]\nthem = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:3: display.them: unknown setting `them`"


def test_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", '[plan]\nmax_dp = "lots"\n')
    with pytest.raises(ConfigError, match=r"c.toml:2: plan.max_dp: expected `int`, got `str`"):
        load_config(path)


def test_frame_rate_out_of_range(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[display]\nidle_hz = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:2: display.idle_hz: expected `float` >= 0.2")


def test_bad_symbol_in_watchlist(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.toml",
        '[[watchlists]]\nname = "default"\nsymbols = [{code = "AAPL"}]\n',
    )
    with pytest.raises(ConfigError, match="EXCHANGE:SYMBOL"):
        load_config(path)


def test_invalid_toml_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "a = 1\nb = = 2\n")
    with pytest.raises(ConfigError, match=r"c.toml:2: not valid TOML"):
        load_config(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "c.toml", "")
    if os.geteuid() == 0:  # root reads any file: make the read fail as it would for a user

        def denied(self: Path, *args: object, **kwargs: object) -> str:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_text", denied)
    else:
        path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        load_config(path)


def test_unreadable_directory_as_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_round_trip_and_backup(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    config = Config()
    config.watchlist().symbols.append(WatchSymbol(code="NYSE:IBM", bar_type="second"))
    save_config(config, path)
    loaded, _ = load_config(path)
    assert loaded == config
    save_config(Config(), path)
    backup, _ = load_config(path.with_name("c.toml.bak"))
    assert backup == config


def test_interrupted_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An atomic write that fails half way leaves the old file and no temp file."""
    path = tmp_path / "c.toml"
    save_config(Config(), path)
    before = path.read_bytes()

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tui.paths.os.fsync", boom)
    changed = msgspec.structs.replace(Config(), active_watchlist="crypto")
    with pytest.raises(OSError, match="No space"):
        save_config(changed, path)
    assert path.read_bytes() == before
    # the backup is written atomically first: it fails whole, never a 0-byte .bak
    assert sorted(p.name for p in tmp_path.glob("c.toml*")) == ["c.toml"]
    assert not list(tmp_path.glob(".c.toml.*"))
