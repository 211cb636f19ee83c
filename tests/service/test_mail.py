"""The mail adapter: captured in the database in dev, sent over real SMTP (a local aiosmtpd server)
when configured, once per key, retried on transient failures; alert mails in each recipient's
language, to the right people."""
import dataclasses
import email
import socket
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from server.core import db, mail
from server.core.errors import TransientError
from server.inventory import alerts
from server.settings import get_settings
from tests.service.test_stock_alerts import world


class Inbox:
    def __init__(self, answer: str = "250 OK"):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.answer = answer

    async def handle_DATA(self, server, session, envelope):
        if self.answer.startswith("250"):
            msg = email.message_from_bytes(envelope.original_content, policy=email_policy.default)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return self.answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"oms", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    servers = []

    def start(answer: str = "250 OK", port: int | None = None) -> tuple[Inbox, int]:
        inbox = Inbox(answer)
        port = port or free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                                auth_require_tls=False)
        controller.start()
        servers.append(controller)
        return inbox, port

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture
def use_smtp(monkeypatch):
    def configure(port: int, **extra) -> None:
        settings = dataclasses.replace(get_settings(), smtp_host="127.0.0.1", smtp_port=port, smtp_username="oms",
                                       smtp_password="s3cret", smtp_starttls=False, smtp_tls=False,
                                       mail_from="stock@oms.test", **extra)
        monkeypatch.setattr(mail, "get_settings", lambda: settings)

    return configure


def a_mail(to: str = "ops@example.com") -> mail.Mail:
    return mail.Mail(to=to, subject="库存预警 low stock", text="TEA has 2 left\n", html="<p>TEA has <b>2</b></p>")


async def test_dev_captures_mail_in_the_database_once_per_key(merchant):
    assert get_settings().mail_capture and mail.transport() == "capture"
    assert await mail.send(a_mail(), key="k1", merchant_id=merchant["id"]) == "captured"
    assert await mail.send(a_mail(), key="k1", merchant_id=merchant["id"]) == "captured"
    rows = await mail.list_messages(merchant["id"])
    assert len(rows) == 1 and rows[0]["to_address"] == "ops@example.com" and rows[0]["subject"] == "库存预警 low stock"
    full = await mail.get_message(merchant["id"], rows[0]["id"])
    assert full["body_text"] == "TEA has 2 left\n" and full["sent_at"] is not None
    assert await mail.get_message(merchant["id"] + 1, rows[0]["id"]) is None


async def test_smtp_delivers_to_a_real_server_with_login(db, smtp_server, use_smtp):
    inbox, port = smtp_server()
    use_smtp(port)
    assert mail.transport(mail.get_settings()) == "smtp"
    assert await mail.send(a_mail(), key="smtp-1") == "sent"
    assert await mail.send(a_mail(), key="smtp-1") == "sent"           # a retry of the job: not sent again
    assert len(inbox.messages) == 1
    sender, rcpts, msg = inbox.messages[0]
    assert sender == "stock@oms.test" and rcpts == ["ops@example.com"]
    assert msg["Subject"] == "库存预警 low stock" and msg["From"] == "stock@oms.test"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "TEA has 2 left\n"
    assert "<b>2</b>" in msg.get_body(("html",)).get_content()
    row = await db_row("smtp-1")
    assert (row["transport"], row["status"], row["attempts"]) == ("smtp", "sent", 1)


async def db_row(key: str):
    return await db.fetchrow("SELECT * FROM mail_message WHERE key = $1", key)


async def test_smtp_down_is_transient_and_the_retry_sends_once(db, smtp_server, use_smtp):
    port = free_port()
    use_smtp(port)
    with pytest.raises(TransientError):
        await mail.send(a_mail(), key="retry-1")
    row = await db_row("retry-1")
    assert row["status"] == "failed" and row["error"]
    inbox, _ = smtp_server(port=port)
    assert await mail.send(a_mail(), key="retry-1") == "sent"
    assert len(inbox.messages) == 1 and (await db_row("retry-1"))["attempts"] == 2


async def test_a_permanent_refusal_is_recorded_not_retried(db, smtp_server, use_smtp):
    _, port = smtp_server("550 mailbox unavailable")
    use_smtp(port)
    assert await mail.send(a_mail(), key="refused") == "failed"
    assert "550" in (await db_row("refused"))["error"]


async def test_alert_mail_goes_to_the_inventory_team_each_in_their_language(merchant, users, smtp_server, use_smtp):
    actor = await world(merchant)
    admin = await users.make("admin", merchant)
    keeper = await users.make("warehouse", merchant)
    await users.make("finance", merchant)                      # may not adjust stock: no mail
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", keeper["id"])
    await alerts.create_rule(actor, {"sku": "CUP", "kind": "threshold", "threshold": 3})
    alert_id = await db.fetchval("SELECT id FROM stock_alert")
    result = await alerts.notify(alert_id)
    assert sorted(result["statuses"]) == sorted([admin["email"], keeper["email"]])
    rows = {r["to_address"]: r for r in await db.fetch("SELECT * FROM mail_message")}
    assert {r["status"] for r in rows.values()} == {"captured"}
    en, zh = rows[admin["email"]], rows[keeper["email"]]
    assert en["language"] == "en" and en["subject"] == "[OMS] Low stock: CUP has 3 available"
    assert "Available: 3" in en["body_text"] and "All warehouses" in en["body_text"]
    assert zh["language"] == "zh" and "库存" in zh["subject"] and "CUP" in zh["subject"]
    assert "可用" in zh["body_text"] and "全部仓库" in zh["body_text"]
    assert "CUP" in zh["body_html"] and "<table" in zh["body_html"]
    assert await db.fetchval("SELECT notified_at IS NOT NULL FROM stock_alert") is True
    # the job runs again (redelivery): nobody gets a second mail
    await alerts.notify(alert_id)
    assert await db.fetchval("SELECT count(*) FROM mail_message") == 2

    # a rule's own recipients: a user of the merchant reads their language, others the author's
    await alerts.create_rule(keeper["actor"], {"sku": "TEA", "warehouse": "HZ", "kind": "threshold", "threshold": 9,
                                               "recipients": f"buyer@supplier.cn, {admin['email']}"})
    second = await db.fetchval("SELECT id FROM stock_alert WHERE id <> $1", alert_id)
    inbox, port = smtp_server()
    use_smtp(port)
    await alerts.notify(second)
    got = {rcpts[0]: msg for _, rcpts, msg in inbox.messages}
    assert sorted(got) == sorted(["buyer@supplier.cn", admin["email"]])
    assert "库存" in got["buyer@supplier.cn"]["Subject"]          # the author (warehouse user) reads Chinese
    assert got[admin["email"]]["Subject"].startswith("[OMS] Low stock: TEA")
