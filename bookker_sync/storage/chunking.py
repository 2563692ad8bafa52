"""Lossless storage of documents larger than Table Storage's per-property limit.

A property holds at most 64 KiB; an entity at most 1 MiB. Documents are JSON, encoded
UTF-8, zlib-compressed (event JSON compresses ~5-10x) and split into binary properties
``doc_000``, ``doc_001``, ... of at most 64,000 bytes, with ``doc_chunks`` giving the count.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from bookker_sync.storage.errors import EntityTooLargeError, StorageError

CHUNK_BYTES = 64_000
# Leave room under the 1 MiB entity limit for keys, projections and system properties.
MAX_DOC_BYTES = 900_000
_PREFIX = "doc_"
_COUNT = "doc_chunks"


def encode_document(document: Any) -> dict[str, Any]:
    """Return the entity properties that store ``document`` (any JSON-serialisable value)."""
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    packed = zlib.compress(raw, level=6)
    if len(packed) > MAX_DOC_BYTES:
        raise EntityTooLargeError(
            f"document is {len(packed)} bytes compressed; the limit is {MAX_DOC_BYTES}"
        )
    chunks = [packed[i : i + CHUNK_BYTES] for i in range(0, len(packed), CHUNK_BYTES)] or [b""]
    props: dict[str, Any] = {_COUNT: len(chunks)}
    for index, chunk in enumerate(chunks):
        props[f"{_PREFIX}{index:03d}"] = chunk
    return props


def decode_document(entity: Mapping[str, Any]) -> Any:
    """Inverse of encode_document; raises StorageError if a chunk is missing."""
    try:
        count = int(entity[_COUNT])
        packed = b"".join(_as_bytes(entity[f"{_PREFIX}{i:03d}"]) for i in range(count))
    except KeyError as exc:
        raise StorageError(f"stored document is incomplete: missing {exc}") from exc
    return json.loads(zlib.decompress(packed).decode("utf-8"))


def document_property_names(entity: Mapping[str, Any]) -> list[str]:
    return [k for k in entity if k == _COUNT or k.startswith(_PREFIX)]


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    # azure-data-tables may hand back binary as an EdmProperty-like wrapper.
    inner = getattr(value, "value", value)
    if isinstance(inner, bytes | bytearray):
        return bytes(inner)
    raise StorageError(f"unexpected chunk type {type(value).__name__}")
