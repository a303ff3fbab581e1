"""Where the next WebSocket frame of a server's byte stream begins and ends (RFC 6455, 5.2).

The engine's connection (:mod:`tui.engine.direct`) takes a whole, unfragmented text or binary
frame straight from the bytes the socket gave it: nearly every frame of a busy feed, read
here in a few integer operations where the library's general parser spends a generator's
worth of calls on each. Everything else (control frames, fragments, and anything the library
must refuse: reserved bits, a masked server frame, a frame over the size limit) is handed to
the library exactly as it came, so the protocol's rules and answers stay the library's.
"""

from __future__ import annotations

TEXT = 1
BINARY = 2
OTHER = 0
"""A whole frame the library must see: a control frame, a fragment, an unknown opcode."""
BROKEN = -1
"""A frame the library will refuse (reserved bits, a mask, too large, a long or fragmented
control frame): from here on, everything is the library's."""

Found = tuple[int, int, int]
"""(kind, where the payload starts, where the frame ends)."""


def next_frame(data: bytes | bytearray, pos: int, max_size: int | None) -> Found | None:
    """The frame at ``pos`` when all of it is in ``data``; None when more bytes are needed.

    ``kind`` is :data:`TEXT` or :data:`BINARY` for a whole data frame (its payload is
    ``data[start:end]``), else :data:`OTHER` or :data:`BROKEN` (its bytes are
    ``data[pos:end]``; for ``BROKEN`` only ``pos`` matters)."""
    avail = len(data) - pos
    if avail < 2:
        return None
    first, second = data[pos], data[pos + 1]
    length = second & 0x7F
    if length < 126:
        head = 2
    elif length == 126:
        if avail < 4:
            return None
        length, head = (data[pos + 2] << 8) | data[pos + 3], 4
    else:
        if avail < 10:
            return None
        length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
    opcode = first & 0x0F
    if (
        first & 0x70  # reserved bits: no extension was negotiated
        or second & 0x80  # a server never masks
        or (max_size is not None and length > max_size)
        or (opcode >= 8 and (length > 125 or not first & 0x80))  # control frames are short, whole
    ):
        return (BROKEN, pos, pos)
    end = pos + head + length
    if len(data) < end:
        return None
    if first & 0x80 and 0 < opcode < 3:  # TEXT or BINARY
        return (opcode, pos + head, end)
    return (OTHER, pos + head, end)
