"""Which warehouse(s) an order's lines are reserved in — one pure function, so the routing rules of a
later issue (distance, cost, capacity) replace it without touching how stock is locked or written.

Default policy (issue 4): the highest-priority eligible warehouse that can fill the whole order; else
split, line by line, starting with the warehouse that fills most; a line is never split. Demand is
summed per SKU across all lines of the order — a kit line contributes its components — so the same
component in several lines is checked against decremented stock, never twice against the same units
(Medusa #16502).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LineDemand:
    """What one order line needs: SKU id -> units (a kit line: each component × the line quantity)."""

    line_id: int
    line_no: int
    needs: Mapping[int, int]


@dataclass
class Candidate:
    """An active warehouse allowed to serve the order's channel, with what it has available now."""

    warehouse_id: int
    code: str
    priority: int
    available: dict[int, int] = field(default_factory=dict)


def total_needs(lines: Iterable[LineDemand]) -> dict[int, int]:
    total: dict[int, int] = {}
    for ln in lines:
        for sku, qty in ln.needs.items():
            total[sku] = total.get(sku, 0) + qty
    return total


def fits(available: Mapping[int, int], needs: Mapping[int, int]) -> bool:
    return all(available.get(sku, 0) >= qty for sku, qty in needs.items())


def ranked(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Most preferred first: higher priority, then the older (lower id) warehouse."""
    return sorted(candidates, key=lambda c: (-c.priority, c.warehouse_id))


def choose_allocation(order: Mapping[str, Any], lines: list[LineDemand],
                      candidates: list[Candidate]) -> dict[int, int] | None:
    """{line id: warehouse id} covering every line, or None when the order cannot be filled.

    `order` (channel, region, coordinates, priority) is what routing rules will look at; the default
    policy needs only the lines and the candidates.
    """
    del order  # the default policy does not route by the order's own attributes
    if not lines:
        return {}
    order_of_preference = ranked(candidates)
    total = total_needs(lines)
    for c in order_of_preference:
        if fits(c.available, total):
            return {ln.line_id: c.warehouse_id for ln in lines}

    left = {c.warehouse_id: dict(c.available) for c in order_of_preference}
    remaining = sorted(lines, key=lambda ln: ln.line_no)
    allocation: dict[int, int] = {}
    while remaining:
        best: tuple[tuple[int, int], Candidate, list[LineDemand], dict[int, int]] | None = None
        for c in order_of_preference:
            avail = dict(left[c.warehouse_id])
            taken = []
            for ln in remaining:
                if fits(avail, ln.needs):
                    for sku, qty in ln.needs.items():
                        avail[sku] = avail.get(sku, 0) - qty
                    taken.append(ln)
            if not taken:
                continue
            score = (sum(sum(ln.needs.values()) for ln in taken), len(taken))
            if best is None or score > best[0]:   # ties keep the more preferred warehouse
                best = (score, c, taken, avail)
        if best is None:
            return None
        _, chosen, taken, avail = best
        left[chosen.warehouse_id] = avail
        for ln in taken:
            allocation[ln.line_id] = chosen.warehouse_id
        remaining = [ln for ln in remaining if ln.line_id not in allocation]
    return allocation
