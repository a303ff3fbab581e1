"""API keys: a type that never shows its value, the secrets file, and a masking log filter.

Keys come from the environment (``INSIGHTSENTRY_API_KEY``, ``INSIGHTSENTRY_RAPIDAPI_KEY``,
``STOCKNEWS_TOKEN``) or from a TOML secrets file created 0600 in a 0700 directory. A secrets
file that other users can read is refused. Every key ever loaded is registered, so
:func:`mask_secrets` and :class:`SecretMaskingFilter` can blank it out of any text.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.paths import atomic_write_text

MASK = "****"
"""What a secret looks like wherever it would have been shown."""
MIN_MASKED_LENGTH = 4
"""Shorter values are not registered: masking them would garble ordinary text."""

ENV_NAMES = {
    "insightsentry_api_key": "INSIGHTSENTRY_API_KEY",
    "insightsentry_rapidapi_key": "INSIGHTSENTRY_RAPIDAPI_KEY",
    "stocknews_token": "STOCKNEWS_TOKEN",
    "nats_token": "MARKETPANE_NATS_TOKEN",
    "nats_nkey_seed": "MARKETPANE_NATS_NKEY_SEED",
}
"""Secrets-file key name to environment variable name."""

_registered: set[str] = set()
"""Every secret value seen in this process; :func:`mask_secrets` replaces each."""


def register_secret(value: str) -> None:
    """Remember ``value`` so that it is masked in all text from now on."""
    if len(value) >= MIN_MASKED_LENGTH:
        _registered.add(value)


def mask_secrets(text: str) -> str:
    """Replace every registered secret in ``text`` with :data:`MASK`."""
    for value in sorted(_registered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A key whose ``repr`` and ``str`` never show the value; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value, for the one place it is sent over the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("Secret values cannot be pickled")


class SecretsFileError(Exception):
    """The secrets file is unsafe or unreadable; the message says how to fix it."""


@dataclass
class Keys:
    """The keys marketpane may use; ``None`` where none is configured."""

    insightsentry_api_key: Secret | None = None
    insightsentry_rapidapi_key: Secret | None = None
    stocknews_token: Secret | None = None
    nats_token: Secret | None = None
    """The fleet broker's token (``[hub] broker``), if it asks for one."""
    nats_nkey_seed: Secret | None = None
    """The fleet broker's nkey seed (``SU...``), if it authenticates by nkey."""
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def has_insightsentry(self) -> bool:
        """True when a direct or RapidAPI InsightSentry key is configured."""
        return bool(self.insightsentry_api_key or self.insightsentry_rapidapi_key)


def check_private(path: Path) -> None:
    """Raise :class:`SecretsFileError` if ``path`` is readable or writable by others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsFileError(
            f"{path}: secrets file is accessible by other users (mode {mode:04o}); "
            f"fix it with: chmod 600 '{path}'"
        )


def load_keys(path: Path, environ: dict[str, str] | None = None) -> Keys:
    """Keys from the environment, else the secrets file; the file is optional."""
    env = os.environ if environ is None else environ
    keys = Keys()
    file_values: dict[str, Any] = {}
    if path.exists():
        check_private(path)
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsFileError(f"{path}: cannot read secrets file: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SecretsFileError(f"{path}: not valid TOML: {exc}") from None
        unknown = set(file_values) - set(ENV_NAMES)
        if unknown:
            raise SecretsFileError(
                f"{path}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(ENV_NAMES)}"
            )
    for name, env_name in ENV_NAMES.items():
        value = env.get(env_name)
        source = f"${env_name}"
        if not value:
            raw = file_values.get(name)
            if raw is not None and not isinstance(raw, str):
                raise SecretsFileError(f"{path}: {name}: expected a string")
            value, source = raw, str(path)
        if value:
            setattr(keys, name, Secret(value))
            keys.sources[name] = source
    return keys


def save_secret(path: Path, name: str, value: str) -> None:
    """Store one key in the secrets file (0600 in a 0700 directory), keeping the others."""
    if name not in ENV_NAMES:
        raise SecretsFileError(f"unknown key {name!r}; allowed: {', '.join(ENV_NAMES)}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    values: dict[str, str] = {}
    if path.exists():
        check_private(path)
        values = {k: str(v) for k, v in tomllib.loads(path.read_text("utf-8")).items()}
    values[name] = value
    register_secret(value)
    lines = [f"{k} = {_toml_string(v)}" for k, v in sorted(values.items())]
    atomic_write_text(path, "\n".join(lines) + "\n", mode=0o600)


def _toml_string(value: str) -> str:
    """A TOML basic string for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks registered secrets in messages and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


def install_record_masking() -> None:
    """Mask secrets when any log record is created, so every handler (even ones we do not
    own, like a test runner's capture) sees masked text. Installed once per process."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if _registered:
            _MASKING_FILTER.filter(record)
        return record

    masking_factory.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Attach :class:`SecretMaskingFilter` to every handler of ``logger`` (root by default)."""
    install_record_masking()
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
            handler.addFilter(SecretMaskingFilter())


_MASKING_FILTER = SecretMaskingFilter()
"""Shared filter used by the record factory."""
