"""The home page: who and where you are, and the areas you can open."""
from __future__ import annotations

from litestar import Request, Response, get

from server.auth import service as auth_service
from web import nav
from web.access import require
from web.nav import N_
from web.templating import render

nav.register("dashboard", N_("Dashboard"), "/", icon="home", order=0,
             description=N_("Your workspace at a glance"))


@get("/", name="dashboard")
async def dashboard(request: Request) -> Response:
    actor = require(request)
    user = await auth_service.current_user(actor)
    shortcuts = [item for item in nav.visible(actor) if item.key != "dashboard"]
    return await render(request, "dashboard/index.html", {
        "nav_key": "dashboard", "user": user, "shortcuts": shortcuts,
        "permissions": sorted(actor.permissions),
    })


ROUTES = [dashboard]
