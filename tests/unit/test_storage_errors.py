"""Storage failures of any kind reach callers as StorageError (503 for the API), never
as azure-core exceptions (500); meaningful answers pass through for their callers."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from bookker_sync.storage.errors import StorageError, unavailable


@pytest.mark.parametrize(
    "failure",
    [
        ServiceRequestError("connection refused"),
        ServiceResponseError("connection dropped"),
        HttpResponseError("500 from the service"),
        TimeoutError("read timed out"),
        ConnectionResetError("reset"),
    ],
)
async def test_failures_become_storage_errors(failure):
    with pytest.raises(StorageError, match="storage unavailable \\(reading x\\)"):
        async with unavailable("reading x"):
            raise failure


@pytest.mark.parametrize("answer", [ResourceNotFoundError("gone"), ResourceExistsError("there")])
async def test_meaningful_answers_pass_through(answer):
    with pytest.raises(type(answer)):
        async with unavailable("reading x"):
            raise answer


async def test_a_caller_may_name_more_meaningful_answers():
    class LostRace(HttpResponseError):
        pass

    with pytest.raises(LostRace):
        async with unavailable("a transaction", (LostRace,)):
            raise LostRace("412")
