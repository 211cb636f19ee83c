"""Stock alert mail: who hears of an alert, in which language, and the (idempotent) sending.

Run by the `alerts.notify` outbox job for each alert that opens (server/inventory/alerts.py emits it).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from server.auth.roles import ROLES
from server.core import db, mail
from server.inventory.alerts import ALERT_SELECT, RECIPIENT_PERMISSION
from server.settings import get_settings


async def recipients(merchant_id: int, rule: dict | None) -> list[dict]:
    """[{email, language, timezone}]: the rule's own list, else the merchant's active users whose role
    may adjust stock. A listed address that is a user of the merchant reads in that user's language;
    other addresses in the language of the rule's author (English when unknown)."""
    users = {r["email"].lower(): dict(r) for r in await db.fetch(
        "SELECT id, email, role, language, timezone FROM app_user WHERE merchant_id = $1 AND is_active",
        merchant_id)}
    if rule and rule.get("recipients"):
        author = next((u for u in users.values() if u["id"] == rule.get("created_by_id")), None)
        fallback = {"language": author["language"] if author else "en",
                    "timezone": author["timezone"] if author else "Asia/Shanghai"}
        return [{"email": e, "language": users.get(e, fallback)["language"],
                 "timezone": users.get(e, fallback)["timezone"]} for e in rule["recipients"]]
    return [{"email": u["email"], "language": u["language"], "timezone": u["timezone"]}
            for u in sorted(users.values(), key=lambda u: u["id"])
            if RECIPIENT_PERMISSION in ROLES.get(u["role"], frozenset())]


async def notify(alert_id: int) -> dict:
    """Mail an opened alert to its recipients, each in their language (job `alerts.notify`).
    Idempotent per recipient (mail keys), so a retry only sends what is missing."""
    row = await db.fetchrow(f"{ALERT_SELECT} WHERE a.id = $1", alert_id)
    if row is None:
        return {"sent": 0}
    alert = dict(row)
    rule = None
    if alert["rule_id"]:
        rule = await db.fetchrow("SELECT * FROM stock_alert_rule WHERE id = $1", alert["rule_id"])
        rule = dict(rule) if rule else None
    base = get_settings().base_url
    statuses = {}
    for person in await recipients(alert["merchant_id"], rule):
        message = mail.render("alerts/mail", person["language"], {
            "alert": alert, "rule": rule, "url": f"{base}/alerts?status=open",
            "days_of_cover": None if alert["days_of_cover"] is None else round(alert["days_of_cover"], 1),
            "daily_demand": round(alert["daily_demand"] or 0, 1),
            "opened": _local(alert["opened_at"], person["timezone"])})
        message = mail.Mail(to=person["email"], subject=message.subject, text=message.text, html=message.html,
                            language=message.language)
        statuses[person["email"]] = await mail.send(message, key=f"stock_alert:{alert_id}:{person['email']}",
                                                    merchant_id=alert["merchant_id"])
    await db.execute("UPDATE stock_alert SET notified_at = now() WHERE id = $1 AND notified_at IS NULL", alert_id)
    return {"sent": len(statuses), "statuses": statuses}


def _local(value: datetime, tz: str) -> str:
    try:
        zone = ZoneInfo(tz or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
