"""Mount every platform sandbox under /sandbox/<platform> and keep their shops selling.

In dev (`make run`) the sandboxes run inside the web process, so demo channels point their
`api_base_url` at http://127.0.0.1:8000/sandbox/...; a background task makes new orders and status
changes every few seconds and delivers the pushing platforms' webhooks.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from functools import cache

from server.channels.sandbox.base import PlatformSandbox

log = logging.getLogger("oms.sandbox")

SANDBOX_PLATFORMS = ("shopify", "woocommerce", "taobao", "jd", "pinduoduo", "douyin", "amazon")


@cache
def sandboxes() -> dict[str, PlatformSandbox]:
    """One sandbox instance per platform for this process."""
    return {p: importlib.import_module(f"server.channels.sandbox.{p}").Sandbox() for p in SANDBOX_PLATFORMS}


def sandbox_routes() -> list:
    return [sb.router() for sb in sandboxes().values()]


async def run_ticker(interval: float) -> None:
    """Life in the sandboxes: every `interval` seconds each shop sells and changes a little."""
    from server.core import http  # noqa: PLC0415

    while True:
        for platform, sb in sandboxes().items():
            try:
                sb.tick()
                deliver = getattr(sb, "deliver_pending", None)
                if deliver:
                    await deliver(http.client())
            except Exception:
                log.exception("sandbox tick failed", extra={"platform": platform})
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def ticker(interval: float):
    task = asyncio.create_task(run_ticker(interval), name="sandbox-ticker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
