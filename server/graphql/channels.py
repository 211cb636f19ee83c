"""Channels (one shop on one platform) for partners: configuration, sync health and "sync now".
Every resolver is a call into server/channels/service.py.

- `config` is the non-secret configuration as JSON; secrets (tokens, app secrets) are stored encrypted
  and never leave: `credentialsSet` names the ones that are set, nothing more. `channelCreate` and
  `channelUpdate` take secrets and settings together in `config`; the connector's declared fields
  decide which is which. On update an omitted or empty secret keeps the stored one.
- Errors about a config key name it as `config.<key>` exactly as sent (`config.access_token`): config
  is a JSON object whose keys are the platform's, so they are not camelCased.
- `channelSync` is asynchronous by default: it queues one pull (coalesced with any pull already
  queued) and answers at once; watch `lastSyncAt` / `lastSyncOk` / `syncRuns`. With `wait: true` it runs
  the pull inline and answers its counts (slow: as long as the platform takes).
"""
from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from server.channels import service as channels
from server.core.errors import DomainError, ErrorList, NotFound, ValidationError
from server.graphql.context import get_actor
from server.graphql.errors import Error, camel
from server.graphql.relay import decode_id, encode_id

P = ParamSpec("P")
R = TypeVar("R")

ChannelStatus = strawberry.enum(
    enum.Enum("ChannelStatus", {s: s for s in ("active", "paused", "failing")}),  # type: ignore[misc]
    description="active: pulled on schedule; paused: not pulled; failing: the last pulls failed and the "
                "channel backs off (it returns to active after a successful pull).")


# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="What one pull did.")
class SyncCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0

    @classmethod
    def from_dict(cls, counts: dict | None) -> SyncCounts | None:
        if not counts:
            return None
        return cls(fetched=int(counts.get("fetched", 0)), created=int(counts.get("created", 0)),
                   updated=int(counts.get("updated", 0)), failed=int(counts.get("failed", 0)))


@strawberry.type(description="One pull of a channel's orders.")
class SyncRun:
    id: strawberry.ID
    trigger: str = strawberry.field(description="schedule, manual, cli, …")
    since: datetime | None
    until: datetime | None
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None = strawberry.field(description="null while running.")
    error: str
    counts: SyncCounts

    @classmethod
    def from_row(cls, row: dict) -> SyncRun:
        return cls(id=encode_id(row["id"]), trigger=row["trigger"], since=row["since"], until=row["until"],
                   started_at=row["started_at"], finished_at=row["finished_at"], ok=row["ok"], error=row["error"],
                   counts=SyncCounts(fetched=row["fetched"], created=row["created"], updated=row["updated"],
                                     failed=row["failed"]))


@strawberry.type(description="A shop on a platform, with its sync state.")
class Channel:
    id: strawberry.ID
    platform: str
    display_platform: str
    name: str
    status: ChannelStatus  # type: ignore[valid-type]
    poll_interval_s: int = strawberry.field(name="pollIntervalS", description="Seconds between pulls.")
    last_sync_at: datetime | None
    last_sync_ok: bool | None
    last_sync_counts: SyncCounts | None
    last_error: str
    consecutive_failures: int
    next_sync_at: datetime | None
    webhook_url: str = strawberry.field(description="Where the platform pushes order webhooks.")
    capabilities: list[str] = strawberry.field(description="pull_orders, webhooks, push_inventory, "
                                                           "push_fulfillment.")
    config: JSON = strawberry.field(description="The non-secret configuration.")
    credentials_set: list[str] = strawberry.field(description="Names of the secrets that are set (never "
                                                              "their values).")
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The latest pulls, newest first.")
    async def sync_runs(self, info: Info, limit: int = 20) -> list[SyncRun]:
        rows = await channels.sync_runs(get_actor(info), int(self.id), limit=max(1, min(limit, 100)))
        return [SyncRun.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: dict) -> Channel:
        """From `channels.public(row)`: the service already dropped the credentials."""
        return cls(id=encode_id(row["id"]), platform=row["platform"], display_platform=row["display_platform"],
                   name=row["name"], status=row["status"], poll_interval_s=row["poll_interval_s"],
                   last_sync_at=row["last_sync_at"], last_sync_ok=row["last_sync_ok"],
                   last_sync_counts=SyncCounts.from_dict(row.get("last_sync_counts")), last_error=row["last_error"],
                   consecutive_failures=row["consecutive_failures"], next_sync_at=row["next_sync_at"],
                   webhook_url=row["webhook_url"], capabilities=list(row["capabilities"]),
                   config=row["config"] or {}, credentials_set=sorted(row["credentials_masked"]),
                   created_at=row["created_at"], updated_at=row["updated_at"])


# -- inputs --------------------------------------------------------------------------------------


@strawberry.input
class ChannelCreateInput:
    platform: str = strawberry.field(description="shopify, woocommerce, taobao, jd, pinduoduo, douyin, "
                                                 "amazon, website or pos.")
    name: str
    config: JSON | None = strawberry.field(default=None, description="The platform's settings and secrets "
                                                                      "(e.g. shopify: shop_domain, "
                                                                      "access_token, client_secret); every "
                                                                      "platform accepts api_base_url.")
    poll_interval_s: int = strawberry.field(default=300, name="pollIntervalS",
                                            description="60 to 86400 seconds.")


@strawberry.input
class ChannelUpdateInput:
    name: str | None = None
    config: JSON | None = strawberry.field(default=None, description="Keys to change; an empty secret keeps "
                                                                      "the stored one.")
    poll_interval_s: int | None = strawberry.field(default=None, name="pollIntervalS")
    status: ChannelStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="active or paused.")


# -- payloads ------------------------------------------------------------------------------------


@strawberry.type
class ChannelPayload:
    channel: Channel | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ChannelSyncPayload:
    channel: Channel | None = None
    queued: bool = strawberry.field(default=False, description="A pull was queued (without `wait`).")
    result: SyncCounts | None = strawberry.field(default=None, description="The pull's counts (with `wait`).")
    skipped: str | None = strawberry.field(default=None, description="Why the pull did not run (with "
                                                                      "`wait`), e.g. one is already running.")
    sync_error: str | None = strawberry.field(default=None, description="The platform's error, when the "
                                                                        "pull (with `wait`) failed.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ChannelTestConnectionPayload:
    ok: bool | None = None
    message: str | None = None
    shop_name: str | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ChannelRegisterWebhooksPayload:
    subscriptions: list[str] = strawberry.field(default_factory=list)
    errors: list[Error] = strawberry.field(default_factory=list)


def _field(name: str | None) -> str | None:
    """camelCase for input fields; a key inside the JSON `config` stays as the platform spells it."""
    if name and name.startswith("config."):
        return name
    return camel(name)


def _payload(payload_cls: type) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Like errors.payload, keeping `config.<key>` field names verbatim."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except DomainError as exc:
                items = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
                return payload_cls(errors=[Error(code=e.code, field=_field(e.field), message=e.message)
                                           for e in items])

        return wrapper

    return decorate


def _config(value: object) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("config must be a JSON object of the platform's settings", code="invalid",
                              field="config")
    return value


# -- root fields ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="The merchant's channels, oldest first. Needs `channels.view`.")
    async def channels(self, info: Info) -> list[Channel] | None:
        return [Channel.from_row(r) for r in await channels.list_channels(get_actor(info))]

    @strawberry.field(description="One channel; null when there is none in this merchant. Needs "
                                  "`channels.view`.")
    async def channel(self, info: Info, id: strawberry.ID) -> Channel | None:
        try:
            return Channel.from_row(await channels.get_channel(get_actor(info), decode_id(id)))
        except NotFound:
            return None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Connect a shop. Needs `channels.manage`. A website or POS channel "
                                     "needs no config.")
    @_payload(ChannelPayload)
    async def channel_create(self, info: Info, input: ChannelCreateInput) -> ChannelPayload:
        row = await channels.create_channel(get_actor(info), platform=input.platform.strip(), name=input.name,
                                            config=_config(input.config), poll_interval_s=input.poll_interval_s)
        return ChannelPayload(channel=Channel.from_row(row))

    @strawberry.mutation(description="Rename, reconfigure, pause or resume a channel. Needs "
                                     "`channels.manage`.")
    @_payload(ChannelPayload)
    async def channel_update(self, info: Info, id: strawberry.ID, input: ChannelUpdateInput) -> ChannelPayload:
        row = await channels.update_channel(get_actor(info), decode_id(id), name=input.name,
                                            config=_config(input.config), poll_interval_s=input.poll_interval_s,
                                            status=input.status.value if input.status else None)
        return ChannelPayload(channel=Channel.from_row(row))

    @strawberry.mutation(description="Pull the channel's orders now. Asynchronous: queues one pull and "
                                     "answers `queued: true` at once. With `wait: true` the pull runs "
                                     "inline and `result` has its counts. Needs `channels.manage`.")
    @_payload(ChannelSyncPayload)
    async def channel_sync(self, info: Info, id: strawberry.ID, wait: bool = False) -> ChannelSyncPayload:
        actor = get_actor(info)
        channel_id = decode_id(id)
        if not wait:
            await channels.request_sync(actor, channel_id)
            return ChannelSyncPayload(channel=Channel.from_row(await channels.get_channel(actor, channel_id)),
                                      queued=True)
        counts = await channels.sync_now(actor, channel_id)
        return ChannelSyncPayload(channel=Channel.from_row(await channels.get_channel(actor, channel_id)),
                                  result=SyncCounts.from_dict(counts) or SyncCounts(),
                                  skipped=counts.get("skipped"), sync_error=counts.get("error"))

    @strawberry.mutation(description="Check that the channel's settings reach the platform. Needs "
                                     "`channels.manage`.")
    @_payload(ChannelTestConnectionPayload)
    async def channel_test_connection(self, info: Info, id: strawberry.ID) -> ChannelTestConnectionPayload:
        check = await channels.test_connection(get_actor(info), decode_id(id))
        return ChannelTestConnectionPayload(ok=check["ok"], message=check["message"],
                                            shop_name=check["shop_name"] or None)

    @strawberry.mutation(description="Subscribe the platform's order webhooks to this channel's "
                                     "`webhookUrl` (Shopify, WooCommerce). Needs `channels.manage`.")
    @_payload(ChannelRegisterWebhooksPayload)
    async def channel_register_webhooks(self, info: Info, id: strawberry.ID) -> ChannelRegisterWebhooksPayload:
        ids = await channels.register_webhooks(get_actor(info), decode_id(id))
        return ChannelRegisterWebhooksPayload(subscriptions=[str(i) for i in ids])
