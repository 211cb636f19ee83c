"""Outgoing mail: one adapter, SMTP through aiosmtplib or captured in the database in dev.

Callers never send mail inside a request: a service emits an outbox job and the job calls `send()`.
Every mail is a `mail_message` row, unique on an idempotency `key` (say `stock_alert:42:ops@x.com`),
so a job that is retried, redelivered or run twice mails each recipient once:

- the row is inserted once (ON CONFLICT DO NOTHING) and *claimed* by one conditional UPDATE
  (pending/failed -> sending), so two runs at once never both deliver;
- SMTP configured (`OMS_SMTP_HOST`): delivered with aiosmtplib (STARTTLS when offered or asked for,
  implicit TLS on 465, login when a username is set); a network error or a 4xx answer marks the row
  failed and raises TransientError, so the outbox retries the job with backoff; a 5xx answer is
  permanent (failed, not retried);
- dev/test without SMTP: the mail is `captured` — kept in the table and shown at /dev/mail;
- production without SMTP: the row is marked failed ("no SMTP server configured"), nothing is lost.

Mail bodies are Jinja templates under web/templates (like the gettext catalogs under web/translations,
this module only reads files there): `render("alerts/mail", "zh", ctx)` renders the blocks `subject`
and `text` of `alerts/mail.txt.html` (plain text, not escaped) and `alerts/mail.html` (escaped HTML),
with `_()` translating into the recipient's language.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from server.core import db
from server.core.errors import TransientError
from server.core.i18n import gettext_for, normalize
from server.settings import Settings, get_settings

log = logging.getLogger("oms.mail")

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "web" / "templates"
STALE_CLAIM = "5 minutes"        # a run that claimed a mail and died: another run may take it over
SMTP_TIMEOUT = 20.0

_lang: ContextVar[str] = ContextVar("oms_mail_lang", default="en")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str = ""
    language: str = "en"


# -- rendering -----------------------------------------------------------------------------------

def _gettext(message: str) -> str:
    return gettext_for(_lang.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return gettext_for(_lang.get()).ngettext(singular, plural, n)


@cache
def _environment(html: bool) -> Environment:
    """Two environments: plain text (no escaping) and HTML (autoescaped; translations are text, so
    they are escaped too, as on the pages)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), extensions=["jinja2.ext.i18n"],
                      autoescape=html, trim_blocks=True, lstrip_blocks=True)  # noqa: S701 - text/plain mail
    if html:
        env.install_gettext_callables(lambda m: Markup.escape(_gettext(m)),
                                      lambda s, p, n: Markup.escape(_ngettext(s, p, n)), newstyle=True)
    else:
        env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    return env


def _block(template: Any, name: str, context: dict) -> str:
    return "".join(template.blocks[name](template.new_context(context))).strip()


def render(base: str, language: str, context: dict) -> Mail:
    """`base.txt.html` (blocks subject, text) and, when it exists, `base.html`, in `language`.
    The recipient (`to`) is filled in by the caller."""
    lang = normalize(language)
    token = _lang.set(lang)
    try:
        text_template = _environment(False).get_template(f"{base}.txt.html")
        subject = " ".join(_block(text_template, "subject", context).split())
        text = _block(text_template, "text", context) + "\n"
        html = ""
        if (TEMPLATES_DIR / f"{base}.html").exists():
            html = _environment(True).get_template(f"{base}.html").render(context)
    finally:
        _lang.reset(token)
    return Mail(to="", subject=subject, text=text, html=html, language=lang)


# -- sending -------------------------------------------------------------------------------------

def transport(settings: Settings | None = None) -> str:
    s = settings or get_settings()
    if s.smtp_host:
        return "smtp"
    return "capture" if s.mail_capture else "none"


def _message(mail: Mail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    msg["Content-Language"] = "zh-CN" if mail.language == "zh" else mail.language
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    return msg


async def deliver_smtp(mail: Mail, settings: Settings | None = None) -> None:
    """One message over SMTP now (no database). Raises aiosmtplib / OS errors."""
    s = settings or get_settings()
    await aiosmtplib.send(
        _message(mail, s.mail_from), hostname=s.smtp_host, port=s.smtp_port,
        username=s.smtp_username or None, password=s.smtp_password or None,
        use_tls=s.smtp_tls, start_tls=None if s.smtp_tls else s.smtp_starttls, timeout=SMTP_TIMEOUT)


async def send(mail: Mail, *, key: str, merchant_id: int | None = None) -> str:
    """Send (or capture) `mail` once for `key`. Returns the row's status afterwards:
    sent | captured | failed | sending (another run is delivering it right now)."""
    s = get_settings()
    how = transport(s)
    await db.execute(
        """INSERT INTO mail_message (merchant_id, key, to_address, from_address, subject, body_text, body_html,
                                     language, transport)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING""",
        merchant_id, key, mail.to, s.mail_from, mail.subject, mail.text, mail.html, mail.language, how)
    claimed = await db.fetchrow(
        f"""UPDATE mail_message SET status = 'sending', attempts = attempts + 1, transport = $2, updated_at = now()
            WHERE key = $1 AND (status IN ('pending', 'failed')
                                OR (status = 'sending' AND updated_at < now() - interval '{STALE_CLAIM}'))
            RETURNING id""", key, how)  # noqa: S608 - a constant
    if claimed is None:
        return await db.fetchval("SELECT status FROM mail_message WHERE key = $1", key)
    if how == "capture":
        return await _finish(claimed["id"], "captured")
    if how == "none":
        log.warning("mail not sent: no SMTP server configured", extra={"key": key})
        return await _finish(claimed["id"], "failed", "no SMTP server configured (OMS_SMTP_HOST)")
    try:
        await deliver_smtp(mail, s)
    except aiosmtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.code < 600
        await _finish(claimed["id"], "failed", f"{exc.code} {exc.message}"[:1000])
        if permanent:
            log.error("mail refused by the SMTP server", extra={"key": key, "code": exc.code})
            return "failed"
        raise TransientError(f"SMTP server answered {exc.code}: {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        await _finish(claimed["id"], "failed", f"{type(exc).__name__}: {exc}"[:1000])
        raise TransientError(f"cannot reach the SMTP server {s.smtp_host}:{s.smtp_port}: {exc}") from exc
    return await _finish(claimed["id"], "sent")


async def _finish(mail_id: int, status: str, error: str = "") -> str:
    await db.execute(
        """UPDATE mail_message SET status = $2, error = $3, updated_at = now(),
                  sent_at = CASE WHEN $2 IN ('sent', 'captured') THEN now() END WHERE id = $1""",
        mail_id, status, error)
    return status


# -- reading (the dev mailbox; the caller has authorized the actor) ------------------------------

async def list_messages(merchant_id: int, *, first: int = 50, after: int | None = None,
                        captured_only: bool = True) -> list[dict]:
    rows = await db.fetch(
        """SELECT id, key, to_address, from_address, subject, language, transport, status, error, created_at,
                  sent_at FROM mail_message
           WHERE merchant_id = $1 AND ($2::bigint IS NULL OR id < $2) AND (NOT $3 OR transport = 'capture')
           ORDER BY id DESC LIMIT $4""", merchant_id, after, captured_only, max(1, min(first, 200)) + 1)
    return [dict(r) for r in rows]


async def get_message(merchant_id: int, mail_id: int) -> dict | None:
    row = await db.fetchrow("SELECT * FROM mail_message WHERE id = $1 AND merchant_id = $2", mail_id, merchant_id)
    return dict(row) if row else None
