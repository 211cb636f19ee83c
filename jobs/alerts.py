"""Stock alert jobs: evaluation after stock changes, the mail of each opened alert, the sweep."""
from __future__ import annotations

from arq import cron

from jobs.registry import outbox_job
from server.inventory import alert_mail, alerts


@outbox_job("alerts.evaluate")
async def evaluate(payload: dict) -> dict:
    """Emitted (coalesced per merchant) by every stock change of a merchant that has alert rules."""
    return await alerts.evaluate(int(payload["merchant_id"]), recent=True)


@outbox_job("alerts.notify", transactional=False)  # SMTP I/O; idempotent per recipient (mail keys)
async def notify(payload: dict) -> dict:
    return await alert_mail.notify(int(payload["alert_id"]))


async def sweep_stock_alerts(ctx: dict) -> int:
    return await alerts.sweep()


CRON = [cron(sweep_stock_alerts, minute=set(range(2, 60, 5)), second={15}, run_at_startup=False)]
