"""`oms channel create|list|sync`."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def add_channel_commands(sub, *, ensure_services: Callable, run_db: Callable, print_json: Callable) -> None:
    ch = sub.add_parser("channel", help="sales channels").add_subparsers(dest="action", required=True)

    sp = ch.add_parser("create", help="create a channel; prints {id, webhook_url}")
    sp.add_argument("--merchant", required=True, help="merchant slug or id")
    sp.add_argument("--platform", required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--config", default="{}", help="JSON object of the platform's config keys")
    sp.add_argument("--poll-interval", type=int, default=300, help="seconds between pulls (>= 60)")

    def create(args: argparse.Namespace) -> None:
        ensure_services()
        try:
            config = json.loads(args.config)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"oms: --config is not valid JSON: {exc}") from exc

        async def run() -> dict:
            from server.auth import service as auth  # noqa: PLC0415
            from server.channels import service  # noqa: PLC0415
            from server.core.actor import system  # noqa: PLC0415

            merchant = await auth.find_merchant(args.merchant)
            ch = await service.create_channel(system(merchant["id"], "cli"), platform=args.platform, name=args.name,
                                              config=config, poll_interval_s=args.poll_interval)
            return {"id": ch["id"], "webhook_url": ch["webhook_url"], "platform": ch["platform"], "name": ch["name"]}

        print_json(run_db(run))

    sp.set_defaults(fn=create)

    sp = ch.add_parser("list", help="list a merchant's channels")
    sp.add_argument("--merchant", required=True)

    def list_(args: argparse.Namespace) -> None:
        ensure_services()

        async def run() -> list:
            from server.auth import service as auth  # noqa: PLC0415
            from server.channels import service  # noqa: PLC0415
            from server.core.actor import system  # noqa: PLC0415

            merchant = await auth.find_merchant(args.merchant)
            return [{k: c[k] for k in ("id", "platform", "name", "status", "last_sync_at", "last_error", "webhook_url")}
                    for c in await service.list_channels(system(merchant["id"], "cli"))]

        for item in run_db(run):
            print_json(item)

    sp.set_defaults(fn=list_)

    sp = ch.add_parser("sync", help="run one pull now; prints {fetched, created, updated, failed}")
    sp.add_argument("id", type=int)

    def sync(args: argparse.Namespace) -> None:
        ensure_services()

        async def run() -> dict:
            from server.channels import service  # noqa: PLC0415

            return await service.run_sync(args.id, trigger="cli")

        print_json(run_db(run))

    sp.set_defaults(fn=sync)
