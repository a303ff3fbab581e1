"""Saving a file the user owns: their text kept, their choices kept.

- :func:`merge_toml` applies only what changed to the user's own TOML text (with ``tomlkit``, a
  round-trip editor): comments, order, spacing and every key they left out stay as they were,
  so one watchlist change is a change of one watchlist, not a file of every default.
- :func:`write_keeping` writes through a symlink to its target, keeps the file's mode (a new
  file is created 0600: a config can hold webhook URLs), and writes the ``.bak`` copy
  atomically first, so a failed backup (a full disk) never replaces a good one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.items

from tui.paths import atomic_write_text

NEW_FILE_MODE = 0o600
"""Mode of a config file marketpane creates."""


def merge_toml(old_text: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """``old_text`` with the differences between ``old`` and ``new`` (the file's values before
    and after, as plain TOML data) applied, and nothing else touched."""
    document = tomlkit.parse(old_text)
    _apply(document, old, new)
    return tomlkit.dumps(document)


def _apply(container: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        before = old.get(key)
        if key in old and before == value:
            continue
        present = key in container
        if isinstance(value, dict) and isinstance(before, dict | None):
            if not present:
                container[key] = tomlkit.table()
            if isinstance(container[key], dict):
                _apply(container[key], before or {}, value)
                continue
        if (
            present
            and isinstance(value, list)
            and isinstance(before, list)
            and len(before) == len(value)
            and all(isinstance(v, dict) for v in (*value, *before))
            and isinstance(container[key], list)
            and len(container[key]) == len(value)
        ):
            for item, was, now in zip(container[key], before, value, strict=True):
                _apply(item, was, now)
            continue
        container[key] = _styled_like(container[key] if present else None, value)
    for key in [k for k in old if k not in new and k in container]:
        del container[key]


def _styled_like(existing: Any, value: Any) -> Any:
    """``value`` in the style of the item it replaces: an inline array stays inline."""
    if isinstance(existing, tomlkit.items.Array) and isinstance(value, list):
        array = tomlkit.array()
        for entry in value:
            if isinstance(entry, dict):
                table = tomlkit.inline_table()
                table.update(entry)
                array.append(table)
            else:
                array.append(entry)
        return array
    return value


def write_keeping(path: Path, text: str, old: str | None = None) -> Path:
    """Write ``text`` to the file ``path`` names (through symlinks), keeping its mode, with the
    previous content (``old``, read here if not given) in ``<name>.bak``; returns the file
    written."""
    target = Path(os.path.realpath(path))
    try:
        info = target.stat()
    except FileNotFoundError:
        atomic_write_text(target, text, mode=NEW_FILE_MODE)
        return target
    mode = stat.S_IMODE(info.st_mode)
    if old is None:
        old = target.read_text(encoding="utf-8")
    if old != text:  # the backup is atomic too: on a full disk the old .bak stays whole
        atomic_write_text(target.with_name(target.name + ".bak"), old, mode=mode)
    atomic_write_text(target, text, mode=mode)
    return target
