"""Names for JSON values whose shape is free-form (queue payloads, logged extras)."""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
"""Any JSON object."""
