"""Readable fetch errors: Twisted wraps the real cause (connection refused, reset, timeout) in lists of
``Failure`` objects whose text is ``[<twisted.python.failure.Failure …>]``; analysts need the cause."""

from __future__ import annotations

from typing import Any


def readable_error(failure: Any) -> str:
    """One line naming the cause of a failed fetch, e.g. ``ConnectionRefusedError: Connection was refused``."""
    value = getattr(failure, "value", failure)
    causes = getattr(value, "reasons", None)  # ResponseNeverReceived / ResponseFailed / RequestGenerationFailed
    if causes:
        inner = "; ".join(dict.fromkeys(readable_error(c) for c in causes))
        return f"{type(value).__name__}: {inner}"
    text = str(value).strip() or getattr(failure, "getErrorMessage", lambda: "")()
    return f"{type(value).__name__}: {text}" if text else type(value).__name__
