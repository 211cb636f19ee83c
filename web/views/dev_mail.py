"""The dev mailbox: mail captured instead of sent (dev/test without OMS_SMTP_HOST), for admins.

Only mounted in effect when settings say mail is captured: otherwise every path answers 404 and
the sidebar has no entry. Reads go through server.core.mail, scoped to the admin's merchant.
"""
from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from server.auth import policy
from server.core import mail
from server.core.errors import NotFound
from server.settings import get_settings
from web import nav
from web.access import require
from web.nav import N_
from web.templating import is_htmx, render

PERMISSION = "users.manage"      # administrators only

if get_settings().mail_capture:
    nav.register("dev_mail", N_("Mailbox (dev)"), "/dev/mail", permission=PERMISSION, icon="globe", order=90,
                 section="admin", description=N_("Mail captured instead of sent while no SMTP server is set"))


def _guard(request: Request):
    if not get_settings().mail_capture:
        raise NotFound("not found")
    return require(request, PERMISSION)


@get("/dev/mail", name="dev_mail")
async def dev_mail(request: Request, before: FromQuery[int | None] = None) -> Response:
    actor = _guard(request)
    rows = await mail.list_messages(policy.tenant(actor), first=50, after=before)
    context = {"messages": rows[:50], "next_before": rows[49]["id"] if len(rows) > 50 else None,
               "nav_key": "dev_mail"}
    if is_htmx(request) and before:
        return await render(request, "dev_mail/_rows.html", context)
    return await render(request, "dev_mail/index.html", context)


@get("/dev/mail/{mail_id:int}", name="dev_mail_message")
async def dev_mail_message(request: Request, mail_id: FromPath[int]) -> Response:
    actor = _guard(request)
    message = await mail.get_message(policy.tenant(actor), mail_id)
    if message is None:
        raise NotFound("no such mail", field="id")
    return await render(request, "dev_mail/message.html", {"message": message, "nav_key": "dev_mail"})


ROUTES = [dev_mail, dev_mail_message]
