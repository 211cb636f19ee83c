"""Shared bench setup: a durable embedded PostgreSQL + Redis of its own under .oms/bench."""
from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("OMS_BENCH_DIR", ROOT / ".oms" / "bench"))


def setup_env(db_name: str = "oms_bench") -> dict:
    """Start (durable) services unless URLs are given; point OMS_* at them; return the env."""
    from server import devservices

    os.environ.setdefault("OMS_ENV", "dev")
    os.environ["OMS_DATA_DIR"] = str(DATA)
    os.environ["OMS_SANDBOX"] = "false"
    if not os.environ.get("OMS_DATABASE_URL"):
        services = devservices.up(DATA, db=db_name, durable=True)
        os.environ["OMS_DATABASE_URL"] = services.database_url
        os.environ["OMS_REDIS_URL"] = services.redis_url
    return dict(os.environ)


async def reset_database() -> None:
    from server.core import db, migrate

    await db.start_pool()
    await db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await migrate.migrate()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  mean {statistics.mean(values):7.1f} ms"
