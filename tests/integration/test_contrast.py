"""Readable in every terminal: the dashboard in each shipped theme and colour system
(truecolor, 256 and 16 colours, ``NO_COLOR``) at 80x24 and 160x48, fresh and after ten minutes
(every row stale), measured cell by cell from what the app would write to the terminal. No text
cell under 4.5:1 against its own background, no line or chart block under 3:1, and under
``NO_COLOR`` not one colour code."""

from __future__ import annotations

import pytest

from tests.contrast import app_text, cells, colour_codes, worst
from tests.uihelp import pinned_app

THEMES = ["marketpane-dark", "marketpane-light", "marketpane-colorblind", "marketpane-mono"]
SYSTEMS = {
    "truecolor": {"COLORTERM": "truecolor", "TERM": "xterm-256color"},
    "256": {"TERM": "xterm-256color"},
    "16": {"TERM": "screen"},
    "no-color": {"TERM": "xterm-256color", "NO_COLOR": "1"},
}


@pytest.mark.parametrize("system", list(SYSTEMS))
@pytest.mark.parametrize("theme", THEMES)
async def test_every_cell_is_readable(
    theme: str, system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("COLORTERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SYSTEMS[system].items():
        monkeypatch.setenv(name, value)
    problems: list[str] = []
    for later in (0.0, 600.0):
        app = pinned_app(theme=theme, later=later)
        async with app.run_test(size=(160, 48)) as pilot:
            for size in ((160, 48), (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.pause(0.3)
                text = app_text(app)
                found = list(cells(text))
                assert len(found) > 500, "the screen drew almost nothing"
                for graphic in (False, True):
                    for cell in worst(found, graphic=graphic)[:3]:
                        problems.append(
                            f"{size} +{later:.0f}s {cell.char!r} at {cell.row},{cell.column}: "
                            f"{cell.fg} on {cell.bg} is {cell.ratio:.2f}:1"
                        )
                if system == "no-color":
                    assert colour_codes(text) == 0, f"{size}: colour codes under NO_COLOR"
    assert not problems, "\n".join(problems)
