"""The `oms` command. Commands that create something print it as one JSON object on stdout."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from server.settings import ROOT, get_settings


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def _fail(message: str, code: int = 1) -> None:
    print(f"oms: {message}", file=sys.stderr)
    sys.exit(code)


def _ensure_services() -> list[str]:
    """Embedded default: start PostgreSQL + Redis under .oms/ unless URLs are configured."""
    s = get_settings()
    if not s.embedded:
        return []
    from server import devservices  # noqa: PLC0415

    services = devservices.up(s.data_dir, durable=s.env != "test")
    return services.started


def _run_db(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    from server.core import db  # noqa: PLC0415

    async def main() -> Any:
        await db.start_pool()
        try:
            return await coro_fn()
        finally:
            await db.close_pool()

    try:
        return asyncio.run(main())
    except Exception as exc:
        from server.core.errors import DomainError  # noqa: PLC0415

        if isinstance(exc, DomainError):
            _fail(exc.message, 2)
        raise


# -- commands -------------------------------------------------------------------------------

def cmd_services(args: argparse.Namespace) -> None:
    from server import devservices  # noqa: PLC0415

    s = get_settings()
    if args.action == "up":
        services = devservices.up(s.data_dir, durable=s.env != "test")
        _print_json({"database_url": services.database_url, "redis_url": services.redis_url,
                     "started": services.started})
    elif args.action == "down":
        devservices.down(s.data_dir)
        _print_json({"stopped": True})
    else:
        _print_json(devservices.status(s.data_dir))


def cmd_migrate(args: argparse.Namespace) -> None:
    _ensure_services()
    from server.core import migrate  # noqa: PLC0415

    applied = _run_db(migrate.migrate)
    _print_json({"applied": applied})


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn  # noqa: PLC0415

    s = get_settings()
    uvicorn.run("server.app:create_app", factory=True, host=args.host or s.host, port=args.port or s.port,
                workers=args.workers, log_level="warning", proxy_headers=True, access_log=False)


def cmd_worker(args: argparse.Namespace) -> None:
    from jobs.worker import run_worker  # noqa: PLC0415

    run_worker()


def cmd_user_create(args: argparse.Namespace) -> None:
    _ensure_services()

    async def run() -> dict:
        from server.auth import service  # noqa: PLC0415
        from server.core.actor import system  # noqa: PLC0415

        merchant = await service.find_merchant(args.merchant)
        actor = system(merchant["id"], "cli")
        user, generated = await service.create_user(actor, email=args.email, role=args.role,
                                                    name=args.name or "", password=args.password)
        return {**user, **({"password": generated} if generated else {})}

    _print_json(_run_db(run))


def cmd_user_password(args: argparse.Namespace) -> None:
    _ensure_services()

    async def run() -> dict:
        from server.auth import service  # noqa: PLC0415

        password = await service.reset_password(args.email, args.password)
        return {"email": args.email, "password": password}

    _print_json(_run_db(run))


def cmd_apikey_create(args: argparse.Namespace) -> None:
    _ensure_services()

    async def run() -> dict:
        from server.auth import apikeys, service  # noqa: PLC0415
        from server.core.actor import system  # noqa: PLC0415

        merchant = await service.find_merchant(args.merchant)
        record, key = await apikeys.create(system(merchant["id"], "cli"), name=args.name, role=args.role)
        return {"id": record["id"], "key": key, "name": record["name"], "role": record["role"]}

    _print_json(_run_db(run))


def cmd_demo_seed(args: argparse.Namespace) -> None:
    _ensure_services()
    from server import demo  # noqa: PLC0415

    _print_json(_run_db(demo.seed))


def cmd_dev(args: argparse.Namespace) -> None:
    """`make run`: services, migrations, demo data, web server and worker; Ctrl-C stops them all."""
    s = get_settings()
    started = _ensure_services()
    from server import demo  # noqa: PLC0415
    from server.core import migrate  # noqa: PLC0415

    async def prepare() -> dict:
        await migrate.migrate()
        seeded = await demo.seed()
        await demo.after_start(seeded["merchant_id"])
        return seeded

    seeded = _run_db(prepare)
    env = dict(os.environ)
    py = sys.executable
    children = [
        subprocess.Popen([py, "-m", "server.cli", "serve"], env=env, cwd=ROOT),  # noqa: S603
        subprocess.Popen([py, "-m", "server.cli", "worker"], env=env, cwd=ROOT),  # noqa: S603
    ]
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    url = s.base_url
    for _ in range(100):  # wait until the server answers before telling people where it is
        try:
            import httpx  # noqa: PLC0415

            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                break
        except Exception:  # noqa: S112 - not up yet
            time.sleep(0.1)
    print("\n" + "=" * 64)
    print(f"  OMS is running at {url}")
    print(f"  merchant: {seeded['merchant']}   login: {seeded['admin_email']}")
    if seeded.get("admin_password"):
        print(f"  password: {seeded['admin_password']}   (shown once; only its hash is stored)")
    else:
        print("  password: as printed on the first run "
              f"(forgot it? oms user password --email {seeded['admin_email']})")
    print("  Ctrl-C stops the web server, the worker and the services started here.")
    print("=" * 64 + "\n", flush=True)
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.2)
    finally:
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.wait(timeout=15)
            except subprocess.TimeoutExpired:
                c.kill()
        if started:
            from server import devservices  # noqa: PLC0415

            devservices.down(s.data_dir, started)
        print("OMS stopped.", flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oms", description="OMS — multi-channel order management")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("dev", help="start everything for local use (make run)").set_defaults(fn=cmd_dev)
    sp = sub.add_parser("serve", help="run the web server")
    sp.add_argument("--host")
    sp.add_argument("--port", type=int)
    sp.add_argument("--workers", type=int, default=1)
    sp.set_defaults(fn=cmd_serve)
    sub.add_parser("worker", help="run a background worker").set_defaults(fn=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    sp = sub.add_parser("services", help="embedded PostgreSQL + Redis under .oms/")
    sp.add_argument("action", choices=["up", "down", "status"])
    sp.set_defaults(fn=cmd_services)

    user = sub.add_parser("user", help="staff users").add_subparsers(dest="action", required=True)
    sp = user.add_parser("create")
    sp.add_argument("--merchant", required=True, help="merchant slug or id")
    sp.add_argument("--email", required=True)
    sp.add_argument("--role", required=True)
    sp.add_argument("--name")
    sp.add_argument("--password", help="omit to generate one (printed once)")
    sp.set_defaults(fn=cmd_user_create)
    sp = user.add_parser("password", help="set a new password (generated if omitted)")
    sp.add_argument("--email", required=True)
    sp.add_argument("--password")
    sp.set_defaults(fn=cmd_user_password)

    key = sub.add_parser("apikey", help="partner API keys").add_subparsers(dest="action", required=True)
    sp = key.add_parser("create")
    sp.add_argument("--merchant", required=True, help="merchant slug or id")
    sp.add_argument("--name", required=True)
    sp.add_argument("--role", required=True)
    sp.set_defaults(fn=cmd_apikey_create)

    demo = sub.add_parser("demo", help="demo data").add_subparsers(dest="action", required=True)
    demo.add_parser("seed").set_defaults(fn=cmd_demo_seed)

    from server.channels.cli import add_channel_commands  # noqa: PLC0415

    add_channel_commands(sub, ensure_services=_ensure_services, run_db=_run_db, print_json=_print_json)

    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
