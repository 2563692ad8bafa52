"""Use-case errors → HTTP status and error code: the one place that decides it."""

from __future__ import annotations

from bookker_sync.sync.errors import (
    AppError,
    BadRequestError,
    ConflictAppError,
    ForbiddenError,
    GraphFailureError,
    IdempotencyKeyReusedError,
    MailboxNotFoundError,
    NotFoundAppError,
    RuleViolationError,
)


class PayloadTooLargeError(AppError):
    """A body past the size limit: 413 Content Too Large (RFC 9110 §15.5.14), not a
    malformed request: the same body, smaller, might well be valid."""


_BY_TYPE: tuple[tuple[type[AppError], int, str], ...] = (
    (PayloadTooLargeError, 413, "PayloadTooLarge"),
    (BadRequestError, 400, "BadRequest"),
    (ForbiddenError, 403, "Forbidden"),
    (NotFoundAppError, 404, "NotFound"),
    (ConflictAppError, 409, "Conflict"),
    (MailboxNotFoundError, 422, "MailboxNotFound"),
    (RuleViolationError, 422, "RuleViolation"),
    (IdempotencyKeyReusedError, 422, "IdempotencyKeyReused"),
)


def status_and_code(exc: AppError) -> tuple[int, str]:
    if isinstance(exc, GraphFailureError):
        # 503: Outlook is unavailable or throttling, retry later; 502: it refused.
        return (503 if exc.transient else 502), "GraphFailure"
    for kind, status, code in _BY_TYPE:
        if isinstance(exc, kind):
            return status, code
    return 500, "InternalError"
