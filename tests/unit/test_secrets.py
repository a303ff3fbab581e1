"""Keys never show: masked repr, masked logs, private secrets file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tui.secrets import (
    Secret,
    SecretMaskingFilter,
    SecretsFileError,
    load_keys,
    mask_secrets,
    save_secret,
)

KEY = "sk-live-0123456789abcdef"


def test_secret_repr_and_str_hide_value() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret) and KEY not in str(secret) and KEY not in f"{secret}"
    assert secret.reveal() == KEY
    assert mask_secrets(f"url?token={KEY}") == "url?token=****"


def test_logging_filter_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    Secret(KEY)
    logger = logging.getLogger("test.secrets")
    caplog.handler.addFilter(SecretMaskingFilter())
    try:
        raise RuntimeError(f"bad key {KEY}")
    except RuntimeError:
        logger.exception("sending %s", KEY)
    assert KEY not in caplog.text and "****" in caplog.text


def test_secrets_file_created_private(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "secrets.toml"
    save_secret(path, "stocknews_token", KEY)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    keys = load_keys(path, environ={})
    assert keys.stocknews_token == Secret(KEY)


def test_world_readable_secrets_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'stocknews_token = "{KEY}"\n')
    path.chmod(0o644)
    with pytest.raises(SecretsFileError, match="chmod 600") as info:
        load_keys(path, environ={})
    assert KEY not in str(info.value)


def test_env_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    save_secret(path, "insightsentry_api_key", "from-file-key")
    keys = load_keys(path, environ={"INSIGHTSENTRY_API_KEY": "from-env-key"})
    assert keys.insightsentry_api_key == Secret("from-env-key")
    assert keys.sources["insightsentry_api_key"] == "$INSIGHTSENTRY_API_KEY"
