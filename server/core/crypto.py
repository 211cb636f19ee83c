"""Secrets at rest: channel and carrier credentials encrypted with a key from settings."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.core.errors import DomainError
from server.settings import get_settings

_fernet: Fernet | None = None


def _key() -> Fernet:
    global _fernet
    if _fernet is None:
        s = get_settings()
        if s.encryption_key:
            material = s.encryption_key.encode()
        else:
            material = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"oms-credentials",
                            info=b"fernet").derive(s.secret_key.encode())
        _fernet = Fernet(base64.urlsafe_b64encode(material[:32]) if len(material) == 32
                         else base64.urlsafe_b64encode(hashlib.sha256(material).digest()))
    return _fernet


def encrypt_json(value: dict) -> str:
    return _key().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_key().decrypt(token.encode()))
    except InvalidToken as exc:
        raise DomainError("stored credentials cannot be decrypted with the configured key",
                          code="credentials_unreadable") from exc


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison."""
    a_ = a.encode() if isinstance(a, str) else a
    b_ = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_, b_)


def mask_secret(value: str) -> str:
    """Show a credential's last 4 characters only: 'shpat_…a1b2'."""
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) > 8 else "••••"
