"""Colour for terminals of 16 colours or none: filters on what Textual draws, so every theme
stays readable where its truecolor values cannot reach.

- :class:`SixteenColours` (a terminal of 16 colours): Rich would round each colour to the
  nearest of the 16, which turns the themes' tinted grounds (header, cursor, flashes) into the
  terminal's grey and most text on it unreadable. Instead every ground becomes the theme's own
  (black or white), each text colour one of the few the terminal draws readably on it, and the
  highlights become attributes: the cursor row underlined and bold, a flash bold, a badge
  reversed (as it always is).
- :class:`NoColour` (``NO_COLOR``): no colour at all; direction, staleness and flashes are
  carried by weight, italics, underline, reverse and the row's marks.
"""

from __future__ import annotations

from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

_READABLE_ON_BLACK = {
    0: 15, 1: 9, 2: 2, 3: 3, 4: 14, 5: 13, 6: 6, 7: 7,
    8: 8, 9: 9, 10: 10, 11: 11, 12: 14, 13: 13, 14: 14, 15: 15,
}  # fmt: skip
"""xterm's colours on black: red is too dark there, so its bright form is used; blue, even
bright (4.4:1), becomes cyan (black text becomes white)."""
_READABLE_ON_WHITE = {
    0: 0, 1: 1, 2: 4, 3: 0, 4: 4, 5: 0, 6: 0, 7: 0,
    8: 0, 9: 1, 10: 4, 11: 0, 12: 4, 13: 0, 14: 0, 15: 0,
}  # fmt: skip
"""On white only black, red and blue read at 4.5:1: green (up) becomes blue, the rest black."""


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(one: tuple[int, int, int], two: tuple[int, int, int]) -> float:
    """The WCAG contrast ratio of two colours."""
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _index(color: RichColor) -> int:
    number = color.downgrade(ColorSystem.STANDARD).number
    return 7 if number is None else number


class SixteenColours(LineFilter):
    """Re-colour each segment for a 16-colour terminal (see the module's docstring)."""

    def __init__(self, *, dark: bool, cursor: str, flashes: tuple[str, ...]) -> None:
        super().__init__()
        self.ground = RichColor.from_ansi(0 if dark else 15)
        self.table = _READABLE_ON_BLACK if dark else _READABLE_ON_WHITE
        self.cursor = RichColor.parse(cursor).triplet
        self.flashes = {RichColor.parse(f).triplet for f in flashes}
        self._strong: dict[tuple[int, int, int], bool] = {}
        """Grounds seen so far, and whether each is a highlight (3:1 against the theme's)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, self._style(style) if style is not None else None, control)
            for text, style, control in segments
        ]

    def _style(self, style: Style) -> Style:
        ground = style.bgcolor.triplet if style.bgcolor is not None else None
        color = style.color
        fg = RichColor.from_ansi(self.table[_index(color)]) if color is not None else None
        extra = Style()
        if ground is not None and ground == self.cursor:
            extra = Style(bold=True, underline=True)
        elif ground is not None and ground in self.flashes:
            extra = Style(bold=True)
        elif ground is not None and not style.reverse and self._is_strong(ground):
            extra = Style(reverse=True)  # a highlight (a list's cursor) on a strong ground
        return Style(color=fg, bgcolor=self.ground) + style.without_color + extra

    def _is_strong(self, ground: tuple[int, int, int]) -> bool:
        strong = self._strong.get(ground)
        if strong is None:
            strong = self._strong[ground] = _contrast(ground, self.ground.get_truecolor()) >= 3
        return strong


class NoColour(LineFilter):
    """Drop every colour (``NO_COLOR``): only weight, italics, underline and reverse remain,
    and the cursor row, drawn on a ground of its own in colour, is reversed."""

    def __init__(self, *, cursor: str) -> None:
        super().__init__()
        self.cursor = RichColor.parse(cursor).triplet

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, self._style(style) if style is not None else None, control)
            for text, style, control in segments
        ]

    def _style(self, style: Style) -> Style:
        bare = style.without_color
        ground = style.bgcolor.triplet if style.bgcolor is not None else None
        if ground is not None and ground == self.cursor:
            return bare + Style(reverse=not style.reverse)
        return bare
