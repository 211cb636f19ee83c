"""Builders for normalized orders in tests."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from server.channels.connectors.base import (
    FetchedOrder,
    NormalizedAddress,
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)

_seq = itertools.count(1)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def line(sku_code: str = "TEA-LJ-250", qty: int = 1, price: int = 16800, pid: str | None = None,
         sid: str | None = None, ext: str | None = None) -> NormalizedLine:
    return NormalizedLine(external_line_id=ext or f"L{next(_seq)}", title=f"item {sku_code}", quantity=qty,
                          unit_price=price, platform_product_id=pid or f"P-{sku_code}",
                          platform_sku_id=sid or f"S-{sku_code}", sku_code=sku_code)


def order(external_id: str | None = None, *, status: NormalizedStatus = NormalizedStatus.PAID,
          payment: PaymentStatus = PaymentStatus.PAID, updated: datetime | None = None,
          lines: list[NormalizedLine] | None = None, phone: str = "13812345678", buyer_id: str = "buyer-1",
          province: str = "广东省", city: str = "深圳市", district: str = "南山区", currency: str = "CNY",
          refunded: int = 0, placed: datetime | None = None) -> NormalizedOrder:
    lines = lines if lines is not None else [line()]
    items = sum(ln.unit_price * ln.quantity for ln in lines)
    placed = placed or T0
    return NormalizedOrder(
        external_id=external_id or f"EXT{next(_seq)}", order_number=external_id or "", platform_status=status.value.upper(),
        status=status, payment_status=payment, currency=currency, items_total=items, shipping_fee=1000,
        discount_total=0, tax_total=0, paid_total=items + 1000, placed_at=placed, updated_at=updated or placed,
        paid_at=placed if payment != PaymentStatus.UNPAID else None, refunded_total=refunded,
        buyer=NormalizedBuyer(platform_buyer_id=buyer_id, name="张三", phone=phone),
        receiver=NormalizedAddress(name="张三", phone=phone, country_code="CN", province=province, city=city,
                                   district=district, address="科技园路1号", postcode="518000"),
        lines=lines)


def fetched(o: NormalizedOrder) -> FetchedOrder:
    return FetchedOrder(external_id=o.external_id, raw={"id": o.external_id, "updated": o.updated_at.isoformat(),
                                                        "status": o.platform_status}, order=o)


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
