"""A typed document repository over one table.

Each entity stores its pydantic model losslessly as a chunked JSON document plus a few
flat *projection* columns used in server-side filters. Every update is guarded by ETag:
a stale write raises ConflictError.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient
from pydantic import BaseModel

from bookker_sync.storage.chunking import decode_document, encode_document
from bookker_sync.storage.errors import ConflictError, NotFoundError, unavailable

M = TypeVar("M", bound=BaseModel)

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_KEY_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def safe_key(value: str) -> str:
    """PartitionKey/RowKey may not contain / \\ # ? or control characters: escape them."""
    return _KEY_FORBIDDEN.sub(lambda m: f"%{ord(m.group()):02X}", value.replace("%", "%25"))


_IF_MATCH = MatchConditions.IfNotModified
_LOST_RACE = (TableTransactionError,)


@dataclass(frozen=True)
class TableWrite(Generic[M]):
    """One write in a partition transaction: create (no etag), update/delete (etag)."""

    kind: str  # "create" | "update" | "delete"
    rk: str
    value: M | None = None
    etag: str | None = None


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A model as read from storage, with the ETag to guard the next write."""

    value: M
    etag: str


class DocumentTable(Generic[M]):
    def __init__(
        self,
        service: TableServiceClient,
        table_name: str,
        model: type[M],
        projection: Callable[[M], Mapping[str, Any]] | None = None,
    ) -> None:
        if not _TABLE_NAME.match(table_name):
            raise ValueError(f"invalid table name {table_name!r}")
        self._service = service
        self.table_name = table_name
        self._model = model
        self._projection = projection
        self._client: TableClient | None = None

    async def client(self) -> TableClient:
        if self._client is None:
            async with unavailable(f"cannot create table {self.table_name}"):
                await self._service.create_table_if_not_exists(self.table_name)
            self._client = self._service.get_table_client(self.table_name)
        return self._client

    def _entity(self, pk: str, rk: str, value: M) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": safe_key(pk), "RowKey": safe_key(rk)}
        if self._projection is not None:
            entity.update(self._projection(value))
        entity.update(encode_document(value.model_dump(mode="json", by_alias=True)))
        return entity

    def _parse(self, entity: Mapping[str, Any]) -> Stored[M]:
        value = self._model.model_validate(decode_document(entity))
        return Stored(value=value, etag=str(entity.metadata["etag"]))  # type: ignore[attr-defined]

    async def get(self, pk: str, rk: str) -> Stored[M]:
        client = await self.client()
        try:
            async with unavailable(f"{self.table_name}: reading {pk}/{rk}"):
                entity = await client.get_entity(safe_key(pk), safe_key(rk))
        except ResourceNotFoundError as exc:
            raise NotFoundError(f"{self.table_name}: {pk}/{rk} not found") from exc
        return self._parse(entity)

    async def find(self, pk: str, rk: str) -> Stored[M] | None:
        try:
            return await self.get(pk, rk)
        except NotFoundError:
            return None

    async def insert(self, pk: str, rk: str, value: M) -> str:
        """Create; ConflictError if it already exists. Returns the new ETag."""
        client = await self.client()
        try:
            async with unavailable(f"{self.table_name}: inserting {pk}/{rk}"):
                meta = await client.create_entity(self._entity(pk, rk, value))
        except ResourceExistsError as exc:
            raise ConflictError(f"{self.table_name}: {pk}/{rk} already exists") from exc
        return str(meta["etag"])

    async def replace(self, pk: str, rk: str, value: M, etag: str) -> str:
        """Replace if unchanged since ``etag`` was read; ConflictError otherwise."""
        client = await self.client()
        try:
            async with unavailable(f"{self.table_name}: replacing {pk}/{rk}"):
                meta = await client.update_entity(
                    self._entity(pk, rk, value),
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise ConflictError(f"{self.table_name}: {pk}/{rk} changed concurrently") from exc
        return str(meta["etag"])

    async def upsert(self, pk: str, rk: str, value: M) -> str:
        """Unconditional write: only for state with a single writer (e.g. under a lease)."""
        client = await self.client()
        async with unavailable(f"{self.table_name}: writing {pk}/{rk}"):
            meta = await client.upsert_entity(self._entity(pk, rk, value), mode=UpdateMode.REPLACE)
        return str(meta["etag"])

    async def delete(self, pk: str, rk: str, etag: str | None = None) -> None:
        client = await self.client()
        try:
            async with unavailable(f"{self.table_name}: deleting {pk}/{rk}"):
                if etag is None:
                    await client.delete_entity(safe_key(pk), safe_key(rk))
                else:
                    await client.delete_entity(
                        safe_key(pk),
                        safe_key(rk),
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
        except ResourceModifiedError as exc:
            raise ConflictError(f"{self.table_name}: {pk}/{rk} changed concurrently") from exc
        except ResourceNotFoundError:
            return

    async def transact(self, pk: str, writes: list[TableWrite[M]]) -> None:
        """Apply writes to one partition atomically (max 100); any stale ETag → ConflictError."""
        if not writes:
            return
        if len(writes) > 100:
            raise ValueError("a table transaction holds at most 100 operations")
        client = await self.client()
        operations: list[Any] = []
        for write in writes:
            if write.kind == "delete":
                entity = {"PartitionKey": safe_key(pk), "RowKey": safe_key(write.rk)}
                operations.append(
                    ("delete", entity, {"etag": write.etag, "match_condition": _IF_MATCH})
                )
            elif write.kind == "create":
                assert write.value is not None
                operations.append(("create", self._entity(pk, write.rk, write.value)))
            else:
                assert write.value is not None and write.etag is not None
                operations.append(
                    (
                        "update",
                        self._entity(pk, write.rk, write.value),
                        {"mode": "replace", "etag": write.etag, "match_condition": _IF_MATCH},
                    )
                )
        try:
            async with unavailable(f"{self.table_name}: transaction on {pk}", _LOST_RACE):
                await client.submit_transaction(operations)
        except TableTransactionError as exc:
            raise ConflictError(f"{self.table_name}: transaction on {pk} lost a race") from exc
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise ConflictError(f"{self.table_name}: transaction on {pk} lost a race") from exc

    async def query(
        self, pk: str | None = None, where: str | None = None, **params: Any
    ) -> AsyncIterator[Stored[M]]:
        """Entities in partition ``pk`` (or all) matching an OData ``where`` with @params."""
        client = await self.client()
        clauses = []
        if pk is not None:
            clauses.append("PartitionKey eq @pk")
            params["pk"] = safe_key(pk)
        if where:
            clauses.append(f"( {where} )")  # azure-data-tables needs "@param " spaced
        if clauses:
            pages = client.query_entities(" and ".join(clauses), parameters=params)
        else:
            pages = client.list_entities()
        async with unavailable(f"{self.table_name}: query"):
            async for entity in pages:
                yield self._parse(entity)

    async def list(self, pk: str | None = None, where: str | None = None, **params: Any) -> list[M]:
        return [s.value async for s in self.query(pk, where, **params)]
