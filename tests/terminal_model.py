"""A small model of a terminal's screen: enough of VT100 to replay what the dashboard writes
(cursor moves, SGR styles, text) and read back each cell's character and style."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.cells import cell_len

TOKEN = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[([\d;]*)m|\x1b\[[\d;?]*[A-Za-z]|\n|[^\x1b\n]")
"""A cursor move, an SGR sequence, any other CSI sequence (ignored), a newline or a character."""


@dataclass(frozen=True)
class Pen:
    """A canonical style: what the text would look like, however it was reached."""

    attributes: frozenset[str] = frozenset()
    fg: str = "default"
    bg: str = "default"


def apply_sgr(pen: Pen, params: str) -> Pen:
    """``pen`` after an SGR sequence with ``params`` (``""`` is a reset)."""
    codes = params.split(";") if params else ["0"]
    attributes, fg, bg = set(pen.attributes), pen.fg, pen.bg
    i = 0
    while i < len(codes):
        code = int(codes[i] or 0)
        if code == 0:
            attributes, fg, bg = set(), "default", "default"
        elif code in (38, 48):
            width = 3 if codes[i + 1] == "5" else 5
            colour = ";".join(codes[i + 1 : i + width])
            fg, bg = (colour, bg) if code == 38 else (fg, colour)
            i += width - 1
        elif code == 39:
            fg = "default"
        elif code == 49:
            bg = "default"
        elif 30 <= code <= 37 or 90 <= code <= 97:
            fg = str(code)
        elif 40 <= code <= 47 or 100 <= code <= 107:
            bg = str(code)
        else:
            attributes.add(str(code))
        i += 1
    return Pen(frozenset(attributes), fg, bg)


@dataclass
class Screen:
    width: int
    height: int
    cells: list[list[tuple[str, Pen]]] = field(default_factory=list)
    pen: Pen = Pen()
    x: int = 0
    y: int = 0

    def __post_init__(self) -> None:
        self.cells = [[(" ", Pen())] * self.width for _ in range(self.height)]

    def feed(self, data: str) -> None:
        for match in TOKEN.finditer(data):
            text = match.group(0)
            if match.group(1) is not None:
                self.y, self.x = int(match.group(1)) - 1, int(match.group(2)) - 1
            elif match.group(3) is not None:
                self.pen = apply_sgr(self.pen, match.group(3))
            elif text.startswith("\x1b"):
                continue
            elif text == "\n":
                self.y = min(self.y + 1, self.height - 1)
            else:
                width = cell_len(text)
                if 0 <= self.y < self.height and 0 <= self.x < self.width:
                    self.cells[self.y][self.x] = (text, self.pen)
                    if width == 2 and self.x + 1 < self.width:
                        self.cells[self.y][self.x + 1] = ("", self.pen)
                self.x += width

    def text(self, y: int, x1: int = 0, x2: int | None = None) -> str:
        return "".join(char for char, _ in self.cells[y][x1:x2])
