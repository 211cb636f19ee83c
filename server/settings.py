"""Settings read once from the environment (prefix OMS_). Nothing else reads os.environ."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """Configuration that must not start (production without a secret key, ...)."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    env: str = "dev"                       # dev | test | production
    data_dir: Path = ROOT / ".oms"         # embedded services, dev secret key, captured mail
    database_url: str | None = None        # unset -> embedded PostgreSQL under data_dir
    redis_url: str | None = None           # unset -> embedded Redis under data_dir
    secret_key: str = ""
    encryption_key: str = ""               # channel/carrier credentials; derived from secret_key if unset
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""                   # how platforms reach us (webhook URLs); default http://host:port
    log_level: str = "INFO"
    log_json: bool = False
    db_pool_min: int = 2
    db_pool_max: int = 20
    session_max_age: int = 12 * 3600       # seconds
    login_max_failures: int = 5            # per email+IP within login_window
    login_window: int = 15 * 60
    api_rate_limit: int = 600              # GraphQL requests per minute per API key / user
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    sandbox: bool = False                  # mount the platform sandboxes under /sandbox
    sandbox_tick_seconds: float = 20.0     # how often the sandboxes' shops produce new orders
    smtp_url: str = ""                     # smtp://user:pass@host:port; unset -> mail captured in dev
    mail_from: str = "oms@localhost"
    smtp_host: str = ""                    # unset: mail is captured in the database (dev/test only)
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool | None = None      # None: upgrade when the server offers STARTTLS
    smtp_tls: bool = False                 # implicit TLS (smtps, usually port 465)
    extra: dict = field(default_factory=dict)

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @property
    def mail_capture(self) -> bool:
        """Mail is kept in the database (viewable at /dev/mail) instead of sent: dev without SMTP."""
        return self.is_dev and not self.smtp_host

    @property
    def embedded(self) -> bool:
        return not (self.database_url and self.redis_url)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def cookie_secure(self) -> bool:
        return not self.is_dev


def _dev_secret(data_dir: Path) -> str:
    """In dev a secret key is generated once and kept under .oms/ so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(environ: dict[str, str] | None = None) -> Settings:
    e = os.environ if environ is None else environ
    env = e.get("OMS_ENV", "dev").lower()
    if env not in ("dev", "test", "production"):
        raise SettingsError(f"OMS_ENV must be dev, test or production, not {env!r}")
    data_dir = Path(e.get("OMS_DATA_DIR") or ROOT / ".oms").resolve()
    database_url = e.get("OMS_DATABASE_URL") or None
    redis_url = e.get("OMS_REDIS_URL") or None
    secret_key = e.get("OMS_SECRET_KEY", "")
    if env == "production":
        missing = [name for name, value in (("OMS_SECRET_KEY", secret_key),
                                            ("OMS_DATABASE_URL", database_url),
                                            ("OMS_REDIS_URL", redis_url)) if not value]
        if missing:
            raise SettingsError(f"production needs {', '.join(missing)} to be set "
                                "(see README, Configuration)")
        if len(secret_key) < 32:
            raise SettingsError("OMS_SECRET_KEY must be at least 32 characters in production")
    elif not secret_key:
        secret_key = _dev_secret(data_dir)
    smtp = _smtp(e)
    if env == "production" and smtp["smtp_host"] and not e.get("OMS_MAIL_FROM"):
        raise SettingsError("production with OMS_SMTP_HOST needs OMS_MAIL_FROM (the sender address) to be set")
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        encryption_key=e.get("OMS_ENCRYPTION_KEY", ""),
        host=e.get("OMS_HOST", "127.0.0.1"),
        port=int(e.get("OMS_PORT", "8000")),
        public_url=e.get("OMS_PUBLIC_URL", ""),
        log_level=e.get("OMS_LOG_LEVEL", "INFO").upper(),
        log_json=_bool(e.get("OMS_LOG_JSON"), env == "production"),
        db_pool_min=int(e.get("OMS_DB_POOL_MIN", "2")),
        db_pool_max=int(e.get("OMS_DB_POOL_MAX", "20")),
        session_max_age=int(e.get("OMS_SESSION_MAX_AGE", str(12 * 3600))),
        login_max_failures=int(e.get("OMS_LOGIN_MAX_FAILURES", "5")),
        login_window=int(e.get("OMS_LOGIN_WINDOW", "900")),
        api_rate_limit=int(e.get("OMS_API_RATE_LIMIT", "600")),
        sandbox=_bool(e.get("OMS_SANDBOX"), env == "dev"),
        sandbox_tick_seconds=float(e.get("OMS_SANDBOX_TICK_SECONDS", "20")),
        smtp_url=e.get("OMS_SMTP_URL", ""),
        mail_from=e.get("OMS_MAIL_FROM", "oms@localhost"),
        **smtp,
    )


def _smtp(e: dict[str, str] | os._Environ) -> dict:
    """OMS_SMTP_HOST/PORT/USERNAME/PASSWORD/STARTTLS, or the same in one OMS_SMTP_URL
    (smtp://user:pass@host:port, smtps:// for implicit TLS); the separate variables win."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415

    url = urlsplit(e.get("OMS_SMTP_URL", "")) if e.get("OMS_SMTP_URL") else None
    if url is not None and url.scheme not in ("smtp", "smtps"):
        raise SettingsError("OMS_SMTP_URL must look like smtp://user:password@host:port (or smtps://)")
    implicit = url is not None and url.scheme == "smtps"
    starttls = e.get("OMS_SMTP_STARTTLS", "")
    try:
        port = int(e.get("OMS_SMTP_PORT") or (url.port if url and url.port else (465 if implicit else 587)))
    except ValueError as exc:
        raise SettingsError("OMS_SMTP_PORT must be a number") from exc
    return {
        "smtp_host": e.get("OMS_SMTP_HOST") or (url.hostname or "" if url else ""),
        "smtp_port": port,
        "smtp_username": e.get("OMS_SMTP_USERNAME") or (unquote(url.username or "") if url else ""),
        "smtp_password": e.get("OMS_SMTP_PASSWORD") or (unquote(url.password or "") if url else ""),
        "smtp_starttls": None if starttls.strip().lower() in ("", "auto") else _bool(starttls, False),
        "smtp_tls": implicit or port == 465,
    }


@cache
def get_settings() -> Settings:
    return load()
