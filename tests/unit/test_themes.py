"""Themes load from TOML, bad files are reported, and the wheel ships the same themes."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tui.ui.themes import load_themes, shipped_themes_dir, theme_from_toml

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""


def test_shipped_themes_load() -> None:
    loaded = load_themes(shipped_themes_dir())
    assert not loaded.problems
    names = {t.name for t in loaded.themes}
    assert names == {
        "marketpane-dark",
        "marketpane-light",
        "marketpane-colorblind",
        "marketpane-mono",
    }
    colorblind = next(t for t in loaded.themes if t.name == "marketpane-colorblind")
    assert colorblind.variables["mp-up"] == "#56b4e9"  # blue up, orange down


def test_bad_theme_reported(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "a"\nprimary = "#fff"\n')
    (tmp_path / "b.toml").write_text("not toml = = =")
    loaded = load_themes(tmp_path)
    assert not loaded.themes and len(loaded.problems) == 2
    assert any("lacks mp-up" in p for p in loaded.problems)


def test_wheel_ships_the_same_themes(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("marketpane-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        inside = sorted(n for n in archive.namelist() if n.startswith("tui/_themes/"))
        archive.extractall(tmp_path / "unpacked", members=inside)
    shipped = sorted(p.name for p in (ROOT / "themes").glob("*.toml"))
    assert [Path(n).name for n in inside] == shipped
    for name in shipped:
        a = theme_from_toml(ROOT / "themes" / name)
        b = theme_from_toml(tmp_path / "unpacked" / "tui" / "_themes" / name)
        assert a == b
