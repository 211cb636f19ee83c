"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""
from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.core.errors import ValidationError

_hasher = PasswordHasher()
# Verified when the email is unknown, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_LENGTH = 10


def check_strength(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"password must be at least {MIN_LENGTH} characters", code="weak_password",
                              field=field)
    if password.isdigit() or (password.lower() == password and password.isalpha()):
        raise ValidationError("password must mix letters with digits or symbols", code="weak_password",
                              field=field)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify(password_hash: str | None, password: str) -> bool:
    def _check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_check)


def generate() -> str:
    """A strong random password for generated logins (demo admin, `oms user create`)."""
    return secrets.token_urlsafe(12)
