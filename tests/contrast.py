"""Contrast as the terminal draws it: the screen Textual composed, written by Rich in a colour
system (truecolor, 256 or 16 colours, or none), read back cell by cell from the escape codes,
each colour as xterm shows it, and the WCAG contrast ratio of every visible character against
its own background."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich._palettes import EIGHT_BIT_PALETTE
from rich.color import ColorSystem
from rich.style import Style
from textual._compositor import LayoutUpdate
from textual.app import App

RGB = tuple[int, int, int]

XTERM_16: list[RGB] = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
    (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]  # fmt: skip
"""xterm's default 16 colours (the first 16 of its 256)."""
DEFAULT_FG: RGB = (229, 229, 229)
DEFAULT_BG: RGB = (0, 0, 0)
BORDER_CHARS = set("─│┌┐└┘├┤┬┴┼╭╮╯╰═║╔╗╚╝╠╣╦╩╬━┃┏┓┗┛▔▁▏▕▌▐")
"""Lines and panel edges: graphics, held to 3:1 (WCAG 1.4.11), not text's 4.5:1."""
GRAPHIC_CHARS = BORDER_CHARS | set("▁▂▃▄▅▆▇█▉▊▋▍▎◀▶▲▼●○◆·•╵╷╴╶┊┆")
"""Chart blocks, sparklines, markers and dots: graphics too."""
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")


def _palette(index: int) -> RGB:
    if index < 16:
        return XTERM_16[index]
    r, g, b = EIGHT_BIT_PALETTE[index]
    return (r, g, b)


@dataclass
class Cell:
    """One character as the terminal shows it."""

    char: str
    fg: RGB
    bg: RGB
    row: int
    column: int

    @property
    def ratio(self) -> float:
        return contrast(self.fg, self.bg)

    @property
    def graphic(self) -> bool:
        return self.char in GRAPHIC_CHARS


def _luminance(rgb: RGB) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: RGB, two: RGB) -> float:
    """The WCAG 2 contrast ratio of two colours (1 to 21)."""
    a, b = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (a + 0.05) / (b + 0.05)


_SYSTEMS = {
    "truecolor": ColorSystem.TRUECOLOR,
    "256": ColorSystem.EIGHT_BIT,
    "16": ColorSystem.STANDARD,
}


def screen_text(app: App[Any], color_system: str | None) -> str:
    """The current screen as Rich writes it to a terminal of ``color_system`` (``truecolor``,
    ``256``, ``16`` or None for no colour), one line per row. Each style is rebuilt first:
    Rich keeps a style's escape codes from its first use, in the app's own colour system."""
    system = _SYSTEMS[color_system] if color_system else None
    update = app.screen._compositor.render_update(full=True)
    assert isinstance(update, LayoutUpdate)
    lines: list[str] = []
    for line in update.strips:
        out: list[str] = []
        for strip in line:
            for segment in strip:
                if segment.control:
                    continue
                style = segment.style
                if style is None or system is None:
                    plain = (
                        Style(bold=style.bold, dim=style.dim, reverse=style.reverse)
                        if style
                        else None
                    )
                    out.append(plain.render(segment.text) if plain else segment.text)
                    continue
                fresh = Style(
                    color=style.color,
                    bgcolor=style.bgcolor,
                    bold=style.bold,
                    dim=style.dim,
                    reverse=style.reverse,
                )
                out.append(fresh.render(segment.text, color_system=system))
        lines.append("".join(out))
    return "\n".join(lines)


def app_text(app: App[Any]) -> str:
    """The current screen as the app itself would write it (its own console and styles).

    Each segment's codes are made afresh for this console's colour system: Rich and Textual
    keep a style's codes on the style object itself (``Style._ansi``), whatever system made
    them, and styles are shared between apps, so a process that drew in truecolor first would
    be read in truecolor again under 256 colours. A user's pane has one colour system."""
    update = app.screen._compositor.render_update(full=True)
    assert isinstance(update, LayoutUpdate)
    system = app.console._color_system
    lines: list[str] = []
    for line in update.strips:
        out: list[str] = []
        for strip in line:
            for segment in strip:
                style = segment.style
                if style is None or segment.control:
                    out.append(segment.text)
                else:  # a new style object: its codes are made for this colour system
                    fresh = style.copy()
                    fresh._ansi = None
                    out.append(fresh.render(segment.text, color_system=system))
        lines.append("".join(out))
    return "\n".join(lines)


class _Pen:
    """The SGR state while reading the stream."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fg: RGB | None = None
        self.bg: RGB | None = None
        self.dim = self.reverse = False

    def apply(self, params: str) -> None:
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                self.reset()
            elif code == 2:
                self.dim = True
            elif code == 22:
                self.dim = False
            elif code == 7:
                self.reverse = True
            elif code == 27:
                self.reverse = False
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.fg = XTERM_16[code - 30 if code < 90 else code - 82]
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = XTERM_16[code - 40 if code < 100 else code - 92]
            elif code == 39:
                self.fg = None
            elif code == 49:
                self.bg = None
            elif code in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5:
                    rgb = _palette(codes[i + 2])
                    i += 2
                else:
                    rgb = (codes[i + 2], codes[i + 3], codes[i + 4])
                    i += 4
                if code == 38:
                    self.fg = rgb
                else:
                    self.bg = rgb
            i += 1

    def colours(self) -> tuple[RGB, RGB]:
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:  # xterm draws faint text halfway to its background
            fg = tuple((f + b) // 2 for f, b in zip(fg, bg, strict=True))  # type: ignore[assignment]
        return fg, bg


def cells(text: str) -> Iterator[Cell]:
    """Every visible (non-blank) character of a screen written by :func:`screen_text`."""
    pen = _Pen()
    for row, line in enumerate(text.split("\n")):
        column = 0
        position = 0
        for match in _SGR.finditer(line):
            yield from _plain(line[position : match.start()], pen, row, column)
            column += len(_OTHER_ESCAPE.sub("", line[position : match.start()]))
            pen.apply(match.group(1))
            position = match.end()
        yield from _plain(line[position:], pen, row, column)


def _plain(chunk: str, pen: _Pen, row: int, column: int) -> Iterator[Cell]:
    chunk = _OTHER_ESCAPE.sub("", chunk)
    fg, bg = pen.colours()
    for offset, char in enumerate(chunk):
        if not char.isspace():
            yield Cell(char, fg, bg, row, column + offset)


def colour_codes(text: str) -> int:
    """How many SGR sequences in ``text`` set a colour (fg or bg, any system)."""
    count = 0
    for match in _SGR.finditer(text):
        params = [p for p in match.group(1).split(";") if p]
        if any(p in ("38", "48") or 30 <= int(p) <= 49 or 90 <= int(p) <= 107 for p in params):
            count += 1
    return count


def worst(found: list[Cell], *, graphic: bool) -> list[Cell]:
    """The cells of one kind under its threshold (text 4.5:1, graphics 3:1), worst first."""
    floor = 3.0 if graphic else 4.5
    low = [c for c in found if c.graphic == graphic and c.ratio < floor]
    return sorted(low, key=lambda c: c.ratio)
