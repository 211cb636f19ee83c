"""Several workers, one run per schedule tick: arq cron jobs carry a deterministic id per run time."""
import asyncio

from arq import create_pool, cron
from arq.worker import Worker

from server.core import queue

RUNS: list[str] = []


async def tick(ctx):
    RUNS.append(ctx["job_id"])


async def test_two_workers_run_each_periodic_tick_once(db):
    RUNS.clear()
    workers = []
    for _ in range(2):
        pool = await create_pool(queue.redis_settings())
        workers.append(Worker(functions=[], cron_jobs=[cron(tick, second=set(range(60)))], redis_pool=pool,
                              poll_delay=0.05, handle_signals=False))
    tasks = [asyncio.create_task(w.main()) for w in workers]
    await asyncio.sleep(3.5)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for w in workers:
        await w.close()
    assert 2 <= len(RUNS) <= 5            # one run per second that passed, not two
    assert len(RUNS) == len(set(RUNS))    # no schedule tick ran twice
