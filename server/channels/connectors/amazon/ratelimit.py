"""Client-side token buckets for the Selling Partner API's usage plans.

SP-API limits each operation per selling partner and application with a token bucket (e.g. getOrders
0.0167 requests/s with a burst of 20). Connectors are built per call, so the buckets live here for the
whole process, keyed by (api_base_url, client_id, hash of the refresh token, operation): one bucket per
seller account and operation, shared by every connector instance that uses those credentials.
Responses carry `x-amzn-RateLimit-Limit` with the plan actually granted; the client feeds it back with
`set_rate`, so a partner with a higher plan (or a sandbox) is not held to the defaults.
"""
from __future__ import annotations

import asyncio
import hashlib
import time

# operation -> (requests per second, burst), Amazon's published defaults
DEFAULT_RATES: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "patchListingsItem": (5.0, 10),
    "getMarketplaceParticipations": (0.016, 15),
}


class TokenBucket:
    """Reservation-style bucket: a caller takes a token now (the count may go below zero) and sleeps
    until it has accrued. Nothing awaits between check and take, so it needs no lock on one loop."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self) -> float:
        """Take a token; returns how many seconds to wait before using it."""
        self._refill()
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def set_rate(self, rate: float) -> None:
        if rate > 0 and rate != self.rate:
            self._refill()
            self.rate = rate


_buckets: dict[tuple[str, str, str, str], TokenBucket] = {}


def bucket(api_base_url: str, client_id: str, refresh_token: str, operation: str,
           rates: dict[str, tuple[float, int]] | None = None) -> TokenBucket:
    key = (api_base_url, client_id, hashlib.sha256(refresh_token.encode()).hexdigest(), operation)
    found = _buckets.get(key)
    if found is None:
        rate, burst = (rates or DEFAULT_RATES).get(operation, (1.0, 5))
        found = _buckets[key] = TokenBucket(rate, burst)
    return found
