"""Exit codes and the one-line error the CLI prints for every expected failure."""

from __future__ import annotations

import sys

from bookker_sync.log_context import redact

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input found after parsing (exit 2)."""


def error(message: str) -> None:
    """``error: <first line>`` on stderr, secrets masked."""
    first = redact(message).strip().splitlines() or ["failed"]
    print(f"error: {first[0]}", file=sys.stderr)
