"""What the app stores for a clientState in a stack with API_AUTH=none (the local key)."""

from __future__ import annotations

from bookker_sync.domain.signing import CLIENT_STATE, keyed_digest
from bookker_sync.settings import LOCAL_SECRET_KEY


def local_client_state_hash(secret: str, key: str = LOCAL_SECRET_KEY) -> str:
    return keyed_digest(key.encode(), CLIENT_STATE, secret)
