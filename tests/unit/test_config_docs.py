"""The committed settings reference must be what the declarations generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from herder.config import SETTINGS
from herder.config.docs import REGENERATE, main, render_reference

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_docs_settings_md_is_up_to_date() -> None:
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert committed == render_reference(), (
        f"{REFERENCE} is out of date with the setting declarations; regenerate it with:\n"
        f"    {REGENERATE}"
    )


def test_reference_documents_every_setting() -> None:
    text = render_reference()
    for setting in SETTINGS:
        assert f"### `{setting.name}`" in text
        assert f"`{setting.env_var}`" in text
        assert all(f"`{flag}" in text for flag in setting.flags)


def test_reference_shows_foreign_defaults_and_file_only_rules() -> None:
    text = render_reference()
    assert "- Default: `1`, or `$WEB_CONCURRENCY` when set" in text
    assert "- Default: the current directory" in text
    assert "- Config file: not accepted" in text  # `config` itself
    assert "`HERDER_BIND` (comma-separated)" in text


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main() == 0
    assert capsys.readouterr().out == render_reference()
