"""Fixtures for the extractor tests: one SpacyExtractor per test session (pipelines load once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def extractor():
    from extractors.pipeline import SpacyExtractor

    return SpacyExtractor()
