"""Use-case errors, each with the HTTP status the API answers (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequestError(AppError):
    status, code = 400, "BadRequest"


class ForbiddenError(AppError):
    status, code = 403, "Forbidden"


class NotFoundAppError(AppError):
    status, code = 404, "NotFound"


class ConflictAppError(AppError):
    status, code = 409, "Conflict"


class RuleViolationError(AppError):
    status, code = 422, "RuleViolation"


class GraphFailureError(AppError):
    """Graph refused or failed: 502 for a refusal, 503 when unavailable/throttled."""

    code = "GraphFailure"

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class StorageUnavailableError(AppError):
    status, code = 503, "StorageUnavailable"
