"""Smoke test of `bench/parsers.py`: a tiny run, and the shape of its Markdown table."""

from __future__ import annotations

import pytest

import parsers
from herder.protocol.events import PAUSED
from herder.protocol.http11.accel import parse_head_httptools


def test_a_tiny_run_prints_one_row_per_head(capsys: pytest.CaptureFixture[str]) -> None:
    assert parsers.main(["--number", "20", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(parsers.CASES)  # the header, then one row per head
    for row, case in zip(rows[1:], parsers.CASES, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[0] == case.name
        assert all(float(cell) > 0 for cell in cells[1:])


def test_every_head_takes_the_fast_path() -> None:
    for case in parsers.CASES:
        parsers.check(case)  # raises SystemExit when the accelerator would fall back


def test_the_cycle_reads_the_whole_request_each_time() -> None:
    for case in parsers.CASES:
        one_request = parsers.cycle(case.request, parse_head_httptools)
        for _ in range(3):
            assert one_request() is PAUSED
