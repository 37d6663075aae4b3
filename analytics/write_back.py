"""Writing derived fields back onto stored documents, through whichever path the backend has."""

from __future__ import annotations

from typing import Any

from indexer.base import IndexBackend
from indexer.models import Document


def set_fields(backend: IndexBackend, cls: type[Document], current: dict[str, dict[str, Any]],
               changes: dict[str, dict[str, Any]]) -> int:
    """Set ``changes`` (``{id: {field: value}}``) on documents of ``cls`` whose stored form is in ``current``.
    Elasticsearch data streams are append-only (a re-sent observation is a no-op), so a backend with
    ``update_fields`` updates in place; others take the merged documents as an upsert."""
    if not changes:
        return 0
    update = getattr(backend, "update_fields", None)
    if update is not None:
        update(cls.KIND, changes)
    else:
        backend.upsert([cls.from_dict({**current[i], **c}) for i, c in changes.items()])
    return len(changes)
