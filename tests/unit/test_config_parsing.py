"""The `http_parser` setting: its choices, and a clear error when httptools is missing."""

from __future__ import annotations

import pytest

from herder.config.sections.parsing import http_parser


def test_python_needs_no_package() -> None:
    assert http_parser("python", find_spec=lambda name: None) == "python"


def test_httptools_when_the_package_is_there() -> None:
    seen: list[str] = []

    def find_spec(name: str) -> object:
        seen.append(name)
        return object()

    assert http_parser("HTTPTOOLS", find_spec=find_spec) == "httptools"
    assert seen == ["httptools"]


def test_httptools_without_the_package_names_the_extra() -> None:
    with pytest.raises(ValueError, match=r"pip install 'herder\[speedups\]'"):
        http_parser("httptools", find_spec=lambda name: None)


def test_the_real_lookup_finds_the_test_extra() -> None:
    """CI installs the `test` extra, which includes httptools: nothing here is skipped."""
    assert http_parser("httptools") == "httptools"
