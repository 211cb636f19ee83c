"""arq WorkerSettings: outbox jobs, the outbox relay, and cron. Jobs are thin calls into services.

Any number of workers may run against one PostgreSQL and one Redis: the relay claims outbox rows
with SKIP LOCKED, and arq cron jobs are unique per run time, so periodic work never double-runs.
"""
from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from arq import Retry, cron, func
from arq.worker import Worker

from jobs import housekeeping
from jobs.registry import JOBS, JobSpec
from server.core import db, http, outbox
from server.core import log as oms_log
from server.core.errors import TransientError
from server.core.queue import redis_settings
from server.settings import get_settings

log = logging.getLogger("oms.worker")

# area modules whose import registers outbox jobs and contributes cron jobs
AREA_MODULES = ["jobs.channels", "jobs.stock_push", "jobs.alerts"]


def _load_areas() -> list:
    crons = []
    for name in AREA_MODULES:
        module = importlib.import_module(name)
        crons.extend(getattr(module, "CRON", []))
    return crons


def _arq_function(spec: JobSpec):
    async def run(ctx: dict, outbox_id: int) -> Any:
        token = oms_log.job_id.set(ctx.get("job_id", ""))
        try:
            return await outbox.run(outbox_id, spec.handler, transactional=spec.transactional)
        except TransientError as exc:
            # arq retries only on Retry: back off exponentially (1 s, 2 s, 4 s, … at most 5 min)
            tries = ctx.get("job_try", 1)
            delay = getattr(exc, "retry_after", None) or min(2 ** (tries - 1), 300)
            raise Retry(defer=delay) from exc
        finally:
            oms_log.job_id.reset(token)

    run.__qualname__ = run.__name__ = spec.name.replace(".", "_")
    return func(run, name=spec.name, max_tries=outbox.MAX_ATTEMPTS)


async def startup(ctx: dict) -> None:
    s = get_settings()
    oms_log.setup(s.log_level, s.log_json)
    await db.start_pool()
    relay = outbox.Relay(ctx["redis"])
    await relay.start()
    ctx["relay"] = relay


async def shutdown(ctx: dict) -> None:
    relay = ctx.get("relay")
    if relay:
        await relay.stop()
    await http.close()
    await db.close_pool()


def worker_settings() -> dict:
    area_crons = _load_areas()
    return {
        "functions": [_arq_function(spec) for spec in JOBS.values()],
        "cron_jobs": [
            cron(housekeeping.redeliver_outbox, minute=set(range(0, 60, 5)), run_at_startup=False),
            cron(housekeeping.purge_sessions, hour={3}, minute={17}),
            cron(housekeeping.compact_order_counts, second={30}),
            *area_crons,
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(),
        "max_jobs": 20,
        "job_timeout": 600,
        "keep_result": 600,
        "health_check_interval": 30,
    }


class WorkerSettings:
    """For `arq jobs.worker.WorkerSettings`; `oms worker` builds the same settings."""


for _key, _value in worker_settings().items():
    setattr(WorkerSettings, _key, _value)


def make_worker(**overrides: Any) -> Worker:
    return Worker(**{**worker_settings(), **overrides})


def run_worker() -> None:
    """Run until SIGINT/SIGTERM; if Redis goes away, wait and reconnect instead of dying."""
    while True:
        try:
            make_worker().run()
            return
        except (ConnectionError, OSError) as exc:
            log.warning("worker lost Redis; reconnecting in 3 s", extra={"error": str(exc)})
            time.sleep(3)
