"""The DomainError tree: errors as data (code, field, message), rendered by every surface."""
from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. `code` is stable and machine-readable; `message` is for people."""

    code = "invalid"
    status = 400  # HTTP status when a page or endpoint renders it

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.details = details or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "message": self.message}


class ValidationError(DomainError):
    code = "invalid"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class AuthenticationRequired(DomainError):
    code = "unauthenticated"
    status = 401


class Conflict(DomainError):
    code = "conflict"
    status = 409


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TransientError(DomainError):
    """Worth retrying later (network, 5xx, lock timeouts). Jobs retry these with backoff."""

    code = "transient"
    status = 503


class ErrorList(DomainError):
    """Several validation errors at once (forms, GraphQL inputs)."""

    code = "invalid"
    status = 422

    def __init__(self, errors: list[DomainError]):
        super().__init__("; ".join(e.message for e in errors) or "invalid input")
        self.errors = errors
