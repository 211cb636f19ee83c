"""Shared fixtures: services, database reset, app client, users and actors."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def services():
    """Start the embedded PostgreSQL + Redis for this session (no-op when URLs were given)."""
    from server import devservices

    if not os.environ.get("OMS_TEST_DATABASE_URL"):
        data_dir = Path(os.environ["OMS_DATA_DIR"])
        devservices.up(data_dir, db="oms", durable=False)
    return {"database_url": os.environ["OMS_DATABASE_URL"], "redis_url": os.environ["OMS_REDIS_URL"]}


@pytest.fixture(scope="session")
async def migrated(services):
    from server.core import db, migrate

    await db.start_pool()
    await migrate.migrate()
    yield
    if not await db.close_pool(timeout=10):
        warnings.warn("a test left database connections borrowed at the end of the session", stacklevel=1)


async def truncate_all() -> None:
    from server.core import db

    tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'")
    if tables:
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        # the audit trail refuses deletes by trigger; TRUNCATE is the test harness's reset only
        await db.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def db(migrated):
    """A clean database for this test."""
    from server.core import clock

    yield
    clock.freeze(None)
    await truncate_all()
    from server.core import queue

    with contextlib.suppress(Exception):
        redis = await queue.pool()
        await redis.flushdb()


@pytest.fixture(scope="session")
async def app(migrated):
    """The real application with its lifespan running (on this session's event loop)."""
    from server.app import create_app

    application = create_app()
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # entered and exited in this one task: anyio cancel scopes must not cross tasks
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait_for(started.wait(), 30)
    yield application
    stop.set()
    await task


@pytest.fixture
async def client(app, db) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def new_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def merchant(db):
    from server.auth import service

    return await service.create_merchant(f"shop-{next(_counter)}", "Test Shop")


@pytest.fixture
async def other_merchant(db):
    from server.auth import service

    return await service.create_merchant(f"other-{next(_counter)}", "Other Shop")


class Users:
    """Factory: `await users.make('warehouse')` -> dict(user..., password, actor)."""

    password = "correct-horse-42"

    async def make(self, role: str = "admin", merchant: dict | None = None, email: str | None = None) -> dict:
        from server.auth import service
        from server.auth.roles import permissions_for
        from server.core.actor import Actor, system

        if merchant is None:
            merchant = await service.create_merchant(f"m-{next(_counter)}", "Shop")
        actor = system(merchant["id"], "test")
        user, _ = await service.create_user(actor, email=email or f"{role}{next(_counter)}@example.com",
                                            role=role, name=role.title(), password=self.password)
        user["password"] = self.password
        user["merchant"] = merchant
        user["actor"] = Actor(kind="user", merchant_id=merchant["id"], role=role,
                              permissions=permissions_for(role), user_id=user["id"], label=user["email"])
        return user


@pytest.fixture
def users(db) -> Users:
    return Users()


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Log in through the real form (fetching the CSRF cookie first)."""
    await client.get("/login")
    token = client.cookies.get("oms_csrf", "")
    return await client.post("/login", data={"email": email, "password": password, "_csrf": token})


def csrf_headers(client: httpx.AsyncClient) -> dict:
    return {"X-CSRF-Token": client.cookies.get("oms_csrf", "")}


@pytest.fixture
async def api_key(db):
    """Factory: `await api_key(merchant, role)` -> (record, key)."""
    from server.auth import apikeys
    from server.core.actor import system

    async def make(merchant: dict, role: str = "admin", name: str = "partner") -> tuple[dict, str]:
        return await apikeys.create(system(merchant["id"], "test"), name=name, role=role)

    return make


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async predicate until truthy (for worker-driven effects)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
