"""Saving the config keeps what the user chose: their comments and layout (only what changed is
written), the file's mode, a symlink, and a good backup when the new one cannot be written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.config import Config, WatchSymbol, load_config, save_config

MINE = '# my own config\n[display]\ntheme = "light"  # easier on the eyes\n'


def test_one_change_touches_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'active_watchlist = "tech"\n' + MINE + '\n[[watchlists]]\nname = "tech"\n'
        'symbols = [{code = "NASDAQ:AAPL"}]\n'
    )
    config, _ = load_config(path)
    config.watchlists[0].symbols.append(WatchSymbol(code="NASDAQ:MSFT"))
    save_config(config, path)
    text = path.read_text()
    assert text.startswith('active_watchlist = "tech"\n' + MINE)  # the comments, the layout
    assert 'symbols = [{code = "NASDAQ:AAPL"}, {code = "NASDAQ:MSFT"}]' in text
    assert len(text.splitlines()) == 8  # the file's own lines: nothing expanded
    assert load_config(path)[0] == config


def test_a_change_back_to_a_default_removes_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    config, _ = load_config(path)
    config.display.theme = Config().display.theme
    save_config(config, path)
    assert "theme" not in path.read_text() and "# my own config" in path.read_text()
    assert load_config(path)[0] == config


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_mode_is_kept_and_a_new_file_is_private(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    os.chmod(path, mode)
    config, _ = load_config(path)
    config.display.theme = "dark"
    save_config(config, path)
    assert path.stat().st_mode & 0o777 == mode
    fresh = tmp_path / "new.toml"
    save_config(Config(), fresh)
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_config_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "marketpane.toml"
    real.parent.mkdir()
    real.write_text(MINE)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    config, _ = load_config(link)
    config.display.theme = "dark"
    save_config(config, link)
    assert link.is_symlink() and 'theme = "dark"' in real.read_text()
    assert (real.parent / "marketpane.toml.bak").read_text() == MINE


def test_a_failed_backup_never_replaces_a_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    backup = tmp_path / "config.toml.bak"
    backup.write_text("# the good backup\n")
    from tui.paths import atomic_write_text as real_write

    def full_disk(target: Path, text: str, *, mode: int = 0o644) -> None:
        if target.name.endswith(".bak"):
            raise OSError(28, "No space left on device")
        real_write(target, text, mode=mode)

    monkeypatch.setattr("tui.config.file.atomic_write_text", full_disk)
    config, _ = load_config(path)
    config.display.theme = "dark"
    with pytest.raises(OSError, match="No space"):
        save_config(config, path)
    assert backup.read_text() == "# the good backup\n"
    assert path.read_text() == MINE  # nothing half-written either
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
