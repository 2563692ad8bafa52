"""Use-case errors: what went wrong, in the use case's own words.

How each becomes an HTTP answer is the HTTP layer's business (functions/http_errors.py);
the CLI maps them to exit codes.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequestError(AppError):
    """The request can never succeed as sent."""


class ForbiddenError(AppError):
    """The user may not do this (e.g. a space's allowed groups)."""


class NotFoundAppError(AppError):
    """A tenant, space, user or booking that does not exist."""


class ConflictAppError(AppError):
    """The state forbids it now (a taken slot, a booking no longer confirmed)."""


class MailboxNotFoundError(AppError):
    """A configured address (a user's email, a space's room) has no mailbox in the
    customer's directory: Graph answered 404 for it. Fix the configuration."""


class RuleViolationError(AppError):
    """Bookker's rules refuse it; ``extra["errors"]`` lists every broken rule."""


class IdempotencyKeyReusedError(AppError):
    """An Idempotency-Key sent again with a different request: never answered with the
    booking the key made first. ``extra["idempotencyKey"]`` names the key."""


class GraphFailureError(AppError):
    """Graph refused or failed; ``transient`` when retrying later may succeed
    (unavailable, throttled), as opposed to a refusal."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
