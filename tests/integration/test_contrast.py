"""Readable in every terminal: the dashboard in each shipped theme and colour system
(truecolor, 256 and 16 colours, ``NO_COLOR``) at 80x24 and 160x48, fresh and after ten minutes
(every row stale), measured cell by cell from what the app would write to the terminal. No text
cell under 4.5:1 against its own background, no line or chart block under 3:1, and under
``NO_COLOR`` not one colour code."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets._toast import ToastRack
from textual.widgets._tooltip import Tooltip

from tests.contrast import app_text, cells, colour_codes, worst
from tests.enginehelp import wait_for
from tests.uihelp import pinned_app, sample_portfolio
from tui.ui.app import MarketpaneApp

THEMES = ["marketpane-dark", "marketpane-light", "marketpane-colorblind", "marketpane-mono"]
SYSTEMS = {
    "truecolor": {"COLORTERM": "truecolor", "TERM": "xterm-256color"},
    "256": {"TERM": "xterm-256color"},
    "16": {"TERM": "screen"},
    "no-color": {"TERM": "xterm-256color", "NO_COLOR": "1"},
}


def _use(system: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLORTERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SYSTEMS[system].items():
        monkeypatch.setenv(name, value)


def _in_front(app: MarketpaneApp) -> list[Region]:
    """What a modal screen draws itself: the dashboard behind it is tinted on purpose (not
    what the user reads while the dialog is open), so only the dialog's cells are measured."""
    if not isinstance(app.screen, ModalScreen):
        return [app.screen.region]
    return [w.region for w in app.screen.children if not isinstance(w, ToastRack | Tooltip)]


def _problems(text: str, where: str, regions: list[Region] | None = None) -> list[str]:
    found = [
        cell
        for cell in cells(text)
        if regions is None or any(r.contains(cell.column, cell.row) for r in regions)
    ]
    assert len(found) > 40, f"{where}: the screen drew almost nothing"
    return [
        f"{where} {cell.char!r} at {cell.row},{cell.column}: "
        f"{cell.fg} on {cell.bg} is {cell.ratio:.2f}:1"
        for graphic in (False, True)
        for cell in worst(found, graphic=graphic)[:3]
    ]


SCREENS = {
    "help": ("question_mark",),
    "detail": ("v",),
    "alerts": ("L",),
    "add symbol": ("a",),
    "add alert": ("A",),
    "positions": ("P",),
    "intervals": ("I",),
    "story": ("tab", "enter"),
}
"""Every other screen a user opens, by the keys that open it from the grid."""


@pytest.mark.parametrize("system", list(SYSTEMS))
@pytest.mark.parametrize("theme", THEMES)
async def test_every_screen_and_toast_is_readable(
    theme: str, system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The help, detail, alert, positions, interval and story screens, the input boxes and a
    toast of each severity: every cell as readable as the dashboard's."""
    _use(system, monkeypatch)
    problems: list[str] = []
    app = pinned_app(theme=theme, portfolio=sample_portfolio())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        for name, keys in SCREENS.items():
            await pilot.press(*keys)
            await pilot.pause()  # pressing waited for the screen's events; now it is idle
            assert app.screen is not app.screen_stack[0] or name == "positions", name
            text = app_text(app)
            problems += _problems(text, name, _in_front(app))
            if system == "no-color":
                assert colour_codes(text) == 0, f"{name}: colour codes under NO_COLOR"
            await pilot.press("P" if name == "positions" else "escape")
            await pilot.pause()
        for severity in ("information", "warning", "error"):
            app.notify(f"A {severity} toast a user must be able to read", severity=severity)

        def toasts_drawn() -> bool:
            return "".join(c.char for c in cells(app_text(app))).count("toast") == 3

        await wait_for(toasts_drawn, timeout=5)  # TimeoutError: the toasts were not drawn
        text = app_text(app)
        problems += _problems(text, "toasts")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("system", list(SYSTEMS))
@pytest.mark.parametrize("theme", THEMES)
async def test_every_cell_is_readable(
    theme: str, system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(system, monkeypatch)
    problems: list[str] = []
    for later in (0.0, 600.0):
        app = pinned_app(theme=theme, later=later)
        async with app.run_test(size=(160, 48)) as pilot:
            for size in ((160, 48), (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
                text = app_text(app)
                found = list(cells(text))
                assert len(found) > 400, "the screen drew almost nothing"
                for graphic in (False, True):
                    for cell in worst(found, graphic=graphic)[:3]:
                        problems.append(
                            f"{size} +{later:.0f}s {cell.char!r} at {cell.row},{cell.column}: "
                            f"{cell.fg} on {cell.bg} is {cell.ratio:.2f}:1"
                        )
                if system == "no-color":
                    assert colour_codes(text) == 0, f"{size}: colour codes under NO_COLOR"
    assert not problems, "\n".join(problems)
