"""The user's own datastores page: its example must run verbatim and print its latency lines."""

from __future__ import annotations

import re

from tests.seed import DOC, SEED, SEED_COPY, first_python_block, run_until_line, seed_example


def test_docs_carry_the_seed_example_verbatim():
    assert first_python_block(DOC) == first_python_block(SEED_COPY)


def test_the_kept_copy_is_the_users_page():
    """Where the user's page sits beside the checkout, the repository's copy must be it, byte for byte."""
    if SEED.exists():
        assert SEED_COPY.read_bytes() == SEED.read_bytes(), f"{SEED_COPY} differs from {SEED}"


def test_seed_example_runs_and_prints_its_latency(tmp_path):
    lines = run_until_line(seed_example(), "Latency:", tmp_path)
    text = "\n".join(lines)
    assert "Executed at:" in text and "Scheduled for:" in text
    latency = float(re.search(r"Latency:\s+(-?[\d.]+(?:e[-+]?\d+)?) s", text).group(1))
    # Not before its time; how soon after is for benchmarks/, not for a loaded CI box.
    assert latency >= 0
