"""The user's own datastores page: its example must run verbatim and print its latency lines."""

from __future__ import annotations

import re

import pytest

from tests.seed import DOC, SEED, first_python_block, run_until_line, seed_example


def test_docs_carry_the_seed_example_verbatim():
    if not SEED.exists():
        pytest.skip("shared/seed is not beside this checkout")
    assert first_python_block(DOC) == first_python_block(SEED)


def test_seed_example_runs_and_prints_its_latency(tmp_path):
    lines = run_until_line(seed_example(), "Latency:", tmp_path)
    text = "\n".join(lines)
    assert "Executed at:" in text and "Scheduled for:" in text
    latency = float(re.search(r"Latency:\s+(-?[\d.]+) s", text).group(1))
    assert 0 <= latency < 1.0
