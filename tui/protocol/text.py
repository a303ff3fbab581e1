"""The one place where text from a feed, a REST answer or a file becomes safe to show.

Every string that arrives from outside is data: it must never reach the terminal as a
control sequence, nor move the cursor, nor reorder what surrounds it. :func:`clean_text`
makes every non-printable character visible or removes it, and :func:`clean_model` applies it
to every string of a decoded ``msgspec`` model, once, where the frame becomes a model.

A frame whose bytes are all printable ASCII with no backslash cannot hold such a character
once decoded (JSON forbids raw control characters inside strings, and every escape starts with
a backslash), so :func:`frame_is_plain` lets the hot path skip the walk: quote frames and
30,000-bar histories pay one C-level scan.
"""

from __future__ import annotations

import unicodedata
from typing import Any, TypeVar

import msgspec

CONTROL_PICTURES_BASE = 0x2400
"""``␀`` .. ``␟``: the visible stand-ins for C0 control characters (U+2400 + code)."""
DELETE_PICTURE = "\u2421"
"""``␡``, shown for DEL (0x7F)."""
REPLACEMENT = "\ufffd"
"""``�``, shown for C1 controls, lone surrogates and unassigned code points."""
WHITESPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c")
"""Controls that separate words: shown as one space so the words stay apart."""

T = TypeVar("T")


def _clean_char(char: str) -> str:
    """The printable stand-in for one non-printable character ('' to drop it)."""
    if char in WHITESPACE_CONTROLS:
        return " "
    code = ord(char)
    if code < 0x20:
        return chr(CONTROL_PICTURES_BASE + code)
    if code == 0x7F:
        return DELETE_PICTURE
    category = unicodedata.category(char)
    if category in ("Zs", "Zl", "Zp"):
        return " "  # no-break, ideographic, line and paragraph separators
    if category == "Cf":
        return ""  # bidi overrides, zero-width joiners and spaces: invisible formatting
    if category == "Co":
        return char  # private use (icon fonts): a glyph, not a control
    return REPLACEMENT  # C1 controls (ESC's 8-bit twin CSI 0x9B included), unassigned


def clean_text(value: str) -> str:
    """``value`` with every control or format character made visible or removed.

    ESC becomes ``␛``, other C0 controls their control picture, tabs and newlines a space,
    C1 controls ``�``, and bidi overrides and zero-width characters are dropped. Printable text
    (CJK and emoji included) is returned as it is, without a copy.
    """
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _clean_char(char) for char in value)


def frame_is_plain(frame: str | bytes) -> bool:
    """True when a JSON frame cannot decode to any string that :func:`clean_text` changes."""
    if isinstance(frame, str):
        return frame.isascii() and frame.find("\\") < 0 and frame.find("\x7f") < 0
    return frame.isascii() and frame.find(b"\\") < 0 and frame.find(b"\x7f") < 0


def clean_value(value: T) -> T:
    """``value`` with every string in it cleaned: structs are fixed in place (frozen ones too),
    lists element by element, dicts rebuilt (keys included)."""
    result: Any = value
    if isinstance(value, str):
        result = clean_text(value)
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = clean_value(old)
            if new is not old:
                msgspec.structs.force_setattr(value, name, new)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            new = clean_value(item)
            if new is not item:
                value[index] = new
    elif isinstance(value, dict):
        result = {clean_value(k): clean_value(v) for k, v in value.items()}
    elif isinstance(value, tuple):
        result = tuple(clean_value(item) for item in value)
    return result  # type: ignore[no-any-return]


def clean_model(model: T, frame: str | bytes) -> T:
    """``model`` decoded from ``frame``, its strings cleaned unless the frame is plain."""
    if frame_is_plain(frame):
        return model
    return clean_value(model)
