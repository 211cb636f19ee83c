"""The webhook inbox end to end: HTTP delivery → inbox row → relay step → outbox → real arq worker →
batch job → order. Real PostgreSQL and Redis; Redis is stopped for the outage test."""
import asyncio
import json
import os
from pathlib import Path

import pytest
from arq import create_pool
from arq.worker import Worker

import jobs.channels  # noqa: F401 - registers the webhook jobs and the inbox relay step
from jobs.registry import JOBS
from jobs.worker import _arq_function
from server import devservices
from server.catalog import service as catalog
from server.channels import inbox
from server.channels import service as channels
from server.channels.connectors._hmac import sign_base64
from server.channels.sandbox.base import DEMO_SKUS
from server.channels.sandbox.shopify import Sandbox
from server.core import db, outbox, queue
from server.core.actor import system

SECRET = Sandbox.credentials["client_secret"]


async def make_channel(merchant, name="hooks"):
    actor = system(merchant["id"], "test")
    for sku in DEMO_SKUS:
        await catalog.create_sku(actor, {"code": sku.code, "name": sku.title_en, "list_price": sku.price_cny})
    cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
    cfg["api_base_url"] = "http://127.0.0.1:9"
    return actor, await channels.create_channel(actor, platform="shopify", name=name, config=cfg)


def signed(body: bytes, event_id: str, secret: str = SECRET) -> dict:
    return {"X-Shopify-Hmac-Sha256": sign_base64(secret, body), "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": event_id, "X-Shopify-Shop-Domain": Sandbox.credentials["shop_domain"],
            "Content-Type": "application/json"}


def order_bodies(n: int, seed: int = 11) -> list[tuple[str, bytes]]:
    return [(o.external_id, json.dumps(o.payload).encode()) for o in Sandbox(seed=seed).generate(n)]


async def run_worker_burst() -> None:
    redis = await create_pool(queue.redis_settings())   # a worker closes its pool when done
    worker = Worker(functions=[_arq_function(spec) for spec in JOBS.values()], redis_pool=redis, burst=True,
                    poll_delay=0.05, handle_signals=False, max_jobs=10)
    try:
        await worker.main()
    finally:
        await worker.close()


async def drain(timeout: float = 30.0) -> None:
    """The worker side for real: the outbox relay loop (with the inbox relay step) and arq workers,
    until no delivery is waiting and no job is in flight."""
    relay = outbox.Relay(await queue.pool(), poll_seconds=0.05)
    await relay.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await run_worker_burst()
            waiting = await db.fetchval("SELECT count(*) FROM webhook_inbox WHERE status = 'received'")
            in_flight = await db.fetchval("SELECT count(*) FROM outbox WHERE done_at IS NULL "
                                          "AND job_name LIKE 'channels.webhook%' "
                                          "AND (enqueued_at IS NULL OR enqueued_at > now() - interval '1 minute')")
            if not waiting and not in_flight:
                return
            assert asyncio.get_running_loop().time() < deadline, (waiting, in_flight)
            await asyncio.sleep(0.1)
    finally:
        await relay.stop()


async def orders_of(channel_id: int) -> list[str]:
    return [r["external_id"] for r in await db.fetch("SELECT external_id FROM sales_order WHERE channel_id = $1",
                                                     channel_id)]


async def test_valid_deliveries_become_orders_through_the_worker(merchant, client):
    _, ch = await make_channel(merchant)
    bodies = order_bodies(30)
    responses = await asyncio.gather(*(client.post(f"/webhooks/channels/{ch['id']}", content=b,
                                                   headers=signed(b, f"evt-{i}"))
                                       for i, (_, b) in enumerate(bodies)))
    assert {r.status_code for r in responses} == {202}
    assert all(r.json()["status"] == "accepted" for r in responses)
    # stored raw, unique per event, and nothing else yet: no job row per delivery
    rows = await db.fetch("SELECT body, status, event_id FROM webhook_inbox ORDER BY id")
    assert len(rows) == 30 and {r["status"] for r in rows} == {"received"}
    assert sorted(bytes(r["body"]) for r in rows) == sorted(b for _, b in bodies)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    await drain()
    assert sorted(await orders_of(ch["id"])) == sorted(e for e, _ in bodies)
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox WHERE status = 'processed'") == 30
    # the whole burst went through batch jobs of this channel, not one job per delivery
    jobs_run = await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = 'channels.webhook_batch'")
    assert 1 <= jobs_run < 30


async def test_duplicate_event_id_is_200_and_one_order(merchant, client):
    _, ch = await make_channel(merchant)
    ((ext, body),) = order_bodies(1)
    first = await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=signed(body, "evt-dup"))
    again = await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=signed(body, "evt-dup"))
    assert first.status_code == 202 and again.status_code == 200 and again.json() == {"status": "duplicate"}
    await drain()
    late = await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=signed(body, "evt-dup"))
    assert late.status_code == 200
    assert await orders_of(ch["id"]) == [ext]
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 1


async def test_twenty_concurrent_deliveries_of_one_webhook_make_one_order(merchant, client):
    _, ch = await make_channel(merchant)
    ((ext, body),) = order_bodies(1, seed=12)
    inbox.forget()   # every request starts from a cold cache and loads the channel itself
    responses = await asyncio.gather(*(client.post(f"/webhooks/channels/{ch['id']}", content=body,
                                                   headers=signed(body, "same-delivery")) for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [202]
    await asyncio.gather(drain(), drain())   # two workers racing
    assert await orders_of(ch["id"]) == [ext]
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 1


async def test_invalid_signature_is_401_recorded_and_queues_nothing(merchant, client):
    _, ch = await make_channel(merchant)
    ((_, body),) = order_bodies(1)
    r = await client.post(f"/webhooks/channels/{ch['id']}", content=body,
                          headers=signed(body, "evt-forged", secret="not-the-secret"))
    assert r.status_code == 401
    row = await db.fetchrow("SELECT * FROM webhook_inbox")
    assert row["status"] == "rejected" and not row["signature_valid"] and bytes(row["body"]) == body
    assert await inbox.queue_pending() == 0
    await drain()
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await orders_of(ch["id"]) == []
    missing = await client.post("/webhooks/channels/999999", content=body, headers=signed(body, "evt-x"))
    assert missing.status_code == 404


async def test_malformed_payload_is_kept_and_marked_failed(merchant, client):
    _, ch = await make_channel(merchant)
    ((ext, good),) = order_bodies(1)
    bad = b'{"id": 5, "line_items": "not a list"'
    assert (await client.post(f"/webhooks/channels/{ch['id']}", content=bad, headers=signed(bad, "broken-1"))
            ).status_code == 202
    assert (await client.post(f"/webhooks/channels/{ch['id']}", content=good, headers=signed(good, "fine-1"))
            ).status_code == 202
    await drain()
    row = await db.fetchrow("SELECT * FROM webhook_inbox WHERE event_id = 'broken-1'")
    assert row["status"] == "failed" and row["error"] and bytes(row["body"]) == bad
    # the bad delivery in the same batch did not hold back the good one
    assert await orders_of(ch["id"]) == [ext]
    assert await db.fetchval("SELECT status FROM webhook_inbox WHERE event_id = 'fine-1'") == "processed"


async def test_rotated_secret_takes_effect_at_once(merchant, client):
    actor, ch = await make_channel(merchant)
    url = f"/webhooks/channels/{ch['id']}"
    b1, b2, b3 = (b for _, b in order_bodies(3, seed=13))
    assert (await client.post(url, content=b1, headers=signed(b1, "r-1"))).status_code == 202   # cached now
    await channels.update_channel(actor, ch["id"], config={"client_secret": "rotated-secret"})
    # the old secret is refused at once, though the verifier that accepts it is still cached
    old = await client.post(url, content=b2, headers=signed(b2, "r-2"))
    assert old.status_code == 401
    # and the new one works at once
    assert (await client.post(url, content=b3, headers=signed(b3, "r-3", "rotated-secret"))).status_code == 202
    # a cached verifier with the old secret meets a delivery signed with the new one: reloaded, accepted
    await channels.update_channel(actor, ch["id"], config={"client_secret": SECRET})
    assert (await client.post(url, content=b2, headers=signed(b2, "r-4"))).status_code == 202
    await channels.update_channel(actor, ch["id"], config={"client_secret": "third-secret"})
    assert (await client.post(url, content=b1, headers=signed(b1, "r-5", "third-secret"))).status_code == 202
    rows = await db.fetch("SELECT event_id, status FROM webhook_inbox ORDER BY id")
    assert [(r["event_id"], r["status"]) for r in rows] == [
        ("r-1", "received"), ("", "rejected"), ("r-3", "received"), ("r-4", "received"), ("r-5", "received")]


async def test_redis_down_at_receive_time_is_processed_later(merchant, client):
    _, ch = await make_channel(merchant)
    bodies = order_bodies(3, seed=14)
    data_dir = Path(os.environ["OMS_DATA_DIR"])
    await queue.close()
    devservices.redis_down(data_dir)
    try:
        for i, (_, b) in enumerate(bodies):
            r = await client.post(f"/webhooks/channels/{ch['id']}", content=b, headers=signed(b, f"outage-{i}"))
            assert r.status_code == 202
        # the worker's relay pass with Redis down: the job is queued in PostgreSQL, enqueueing fails
        assert await inbox.queue_pending() == 1
        with pytest.raises(Exception):  # noqa: B017 - any connection error: Redis is down
            await outbox.relay_once(await queue.pool())
        await queue.close()
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE enqueued_at IS NULL") == 1
        assert await db.fetchval("SELECT count(*) FROM webhook_inbox WHERE status = 'received'") == 3
    finally:
        devservices.redis_up(data_dir)
    await drain()
    assert sorted(await orders_of(ch["id"])) == sorted(e for e, _ in bodies)


async def test_lost_batch_job_is_queued_again(merchant, client):
    """Redis lost the job (or its worker died): the relay step queues the channel again once the
    job has been in flight for too long, and the deliveries still become orders."""
    _, ch = await make_channel(merchant)
    ((ext, body),) = order_bodies(1, seed=15)
    assert (await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=signed(body, "lost-1"))
            ).status_code == 202
    assert await inbox.queue_pending() == 1
    assert await inbox.queue_pending() == 0          # one job per channel in flight
    await outbox.relay_once(await queue.pool())
    await (await queue.pool()).flushdb()              # Redis restarted without persistence
    assert await inbox.queue_pending() == 0
    await db.execute("UPDATE outbox SET enqueued_at = now() - interval '3 minutes'")
    assert await inbox.queue_pending() == 1
    await drain()
    assert await orders_of(ch["id"]) == [ext]


async def test_replay_after_failure_goes_through_the_worker(merchant, client):
    actor, ch = await make_channel(merchant)
    ((ext, body),) = order_bodies(1, seed=16)
    assert (await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=signed(body, "replay-1"))
            ).status_code == 202
    inbox_id = await db.fetchval("SELECT id FROM webhook_inbox")
    await db.execute("UPDATE webhook_inbox SET status = 'failed', error = 'was broken' WHERE id = $1", inbox_id)
    await inbox.replay(actor, inbox_id)
    await drain()
    assert await orders_of(ch["id"]) == [ext]
    assert await db.fetchval("SELECT status FROM webhook_inbox WHERE id = $1", inbox_id) == "processed"
