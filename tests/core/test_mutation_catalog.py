"""Every mutation of the catalog still applies: its original text occurs once in its file.

The mutation runner reports a triple whose text moved as ``stale`` (and fails),
but it is run by hand; this keeps the catalog in step with every change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutations.catalog import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_original_text_occurs_exactly_once(mutation: Mutation) -> None:
    source = (ROOT / mutation.file).read_text()
    assert source.count(mutation.original) == 1, (
        f"{mutation.file}: the text this mutation replaces occurs "
        f"{source.count(mutation.original)} times (the code moved: update the triple)"
    )
    assert mutation.original != mutation.mutated
