"""What the dashboard writes to the terminal: only the cells that changed, with only the
style changes the terminal needs.

Textual's partial update writes each changed span from the start of its widget's line to
the span's end (``ChopsUpdate.render_segments`` crops only on the right), and every segment as
its full style, its text and a reset. For a grid row whose price changed at column 100 that is
100 cells and a dozen style sequences, at 50 quotes a second 14 KB/s over SSH. The updates
here write:

- each changed span from the segment that holds its first cell (a segment never starts inside
  a wide character, so nothing is ever half drawn) to its last;
- a style only when it differs from the one the terminal already has: the same style again
  costs nothing, a new colour with the same attributes only that colour's code, anything else
  one reset-and-set sequence; the terminal is left reset at the end.

The screen of the dashboard uses them through its own compositor (:class:`PaneScreen`);
Textual's own renderer draws everything else (full frames through :class:`PaneCompositor` as
well, so a resize pays the same small style codes).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import Color, ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, Compositor, LayoutUpdate
from textual.screen import Screen
from textual.strip import Strip

RESET = "\x1b[0m"


def _move_to(x: int, y: int) -> str:
    return f"\x1b[{y + 1};{x + 1}H"


CACHE_LIMIT = 4096
"""Styles and colours whose codes are kept (a theme has a few dozen; a bound all the same)."""
_ansi: dict[tuple[ColorSystem, Style], str] = {}
_colours: dict[tuple[ColorSystem, Color | None, bool], str] = {}


def _style_codes(system: ColorSystem, style: Style) -> str:
    """The SGR parameters that set ``style`` from a reset (kept per colour system: Textual's
    own cache on the style does not say which system it was made for)."""
    key = (system, style)
    codes = _ansi.get(key)
    if codes is None:
        if len(_ansi) >= CACHE_LIMIT:
            _ansi.clear()
        saved, style._ansi = style._ansi, None
        codes = _ansi[key] = Strip.render_ansi(style, system)
        style._ansi = saved
    return codes


def _colour_codes(system: ColorSystem, colour: Color | None, foreground: bool) -> str:
    """The SGR parameters that set one colour (39 or 49: the terminal's default)."""
    key = (system, colour, foreground)
    codes = _colours.get(key)
    if codes is None:
        if len(_colours) >= CACHE_LIMIT:
            _colours.clear()
        if colour is None:
            codes = "39" if foreground else "49"
        else:
            codes = ";".join(colour.downgrade(system).get_ansi_codes(foreground))
        _colours[key] = codes
    return codes


class Pen:
    """The terminal's current style, and the fewest codes that change it."""

    def __init__(self, system: ColorSystem) -> None:
        self.system = system
        self.style: Style | None = None
        """What the terminal has now (None: its default, after a reset)."""

    def write(self, out: list[str], text: str, style: Style | None) -> None:
        """Append ``text`` in ``style`` to ``out``, changing only what differs."""
        current = self.style
        if style is None or not style:
            if current is not None:
                out.append(RESET)
                self.style = None
            out.append(text)
            return
        if style is current or style == current:
            out.append(text)
            return
        if style._link:  # a hyperlink: Textual's own form, which ends reset
            if current is not None:
                out.append(RESET)
            out.append(Strip.render_style(style, text, self.system))
            self.style = None
            return
        attributes = style._attributes & style._set_attributes
        if current is not None and attributes == current._attributes & current._set_attributes:
            codes = []
            if style._color != current._color:
                codes.append(_colour_codes(self.system, style._color, True))
            if style._bgcolor != current._bgcolor:
                codes.append(_colour_codes(self.system, style._bgcolor, False))
            if codes:
                out.append(f"\x1b[{';'.join(codes)}m")
        else:
            ansi = _style_codes(self.system, style)
            out.append(f"\x1b[0;{ansi}m" if ansi else RESET)
        self.style = style
        out.append(text)

    def finish(self, out: list[str]) -> None:
        """Leave the terminal in its default style."""
        if self.style is not None:
            out.append(RESET)
            self.style = None


def _system(console: Console) -> ColorSystem:
    return console._color_system or ColorSystem.TRUECOLOR


def paint_segments(pen: Pen, out: list[str], segments: Iterable[Segment]) -> None:
    for text, style, _ in segments:
        pen.write(out, text, style)


def _paint_until(
    pen: Pen, out: list[str], segments: list[Segment], index: int, cells: int | None
) -> None:
    """Write ``segments[index:]``, only their first ``cells`` cells when given (a segment
    that crosses the end is cut where the cells end, as :meth:`Strip.crop` cuts): no strip
    is built for a span, a frame writes hundreds."""
    if cells is None:
        paint_segments(pen, out, segments[index:])
        return
    for segment in segments[index:]:
        if cells <= 0:
            return
        width = segment.cell_length
        if width > cells:
            segment = segment.split_cells(cells)[0]
        pen.write(out, segment.text, segment.style)
        cells -= width


class SpanUpdate(ChopsUpdate):
    """A partial update that writes each changed span, not the line up to it."""

    def render_segments(self, console: Console) -> str:
        out: list[str] = []
        pen = Pen(_system(console))
        chops, chop_ends = self.chops, self.chop_ends
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
                if strip is None or x >= x2 or end <= x1:
                    continue
                start = x
                segments = strip._segments
                index = 0
                if x < x1:  # skip the segments wholly before the span
                    for index, segment in enumerate(segments):  # noqa: B007
                        width = segment.cell_length
                        if start + width > x1:
                            break
                        start += width
                    else:
                        continue
                out.append(_move_to(start, y))
                _paint_until(pen, out, segments, index, x2 - start if end > x2 else None)
            if y != last_y:
                out.append("\n")
        pen.finish(out)
        return "".join(out)


class FullUpdate(LayoutUpdate):
    """A full frame, with the same few style codes as :class:`SpanUpdate`."""

    def render_segments(self, console: Console) -> str:
        out: list[str] = []
        pen = Pen(_system(console))
        x = self.region.x
        lines = list(enumerate(self.strips, self.region.y))
        for number, (y, line) in enumerate(lines):
            out.append(_move_to(x, y))
            for strip in line:
                paint_segments(pen, out, strip)
            if number < len(lines) - 1:
                out.append("\n")
        pen.finish(out)
        return "".join(out)


class PaneCompositor(Compositor):
    """Textual's compositor, its updates written by :class:`SpanUpdate` and
    :class:`FullUpdate`."""

    def render_partial_update(self) -> ChopsUpdate | None:
        update = super().render_partial_update()
        if update is None:
            return None
        return SpanUpdate(update.chops, update.spans, update.chop_ends)

    def render_full_update(self, simplify: bool = False) -> LayoutUpdate:
        update = super().render_full_update(simplify=simplify)
        return FullUpdate(update.strips, update.region)


class PaneScreen(Screen[None]):
    """The dashboard's screen: Textual's, drawn through :class:`PaneCompositor`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._compositor = PaneCompositor()
