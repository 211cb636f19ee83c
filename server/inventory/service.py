"""The inventory service: the one writer of warehouses, stock levels, the ledger and reservations.

Pages, GraphQL, CSV imports and jobs call these names; the modules behind them are split by aggregate
(warehouses, stock, reservations) with the pure warehouse choice in allocation and the low-level
level+ledger write in ledger.
"""
from server.inventory.allocation import Candidate, LineDemand, choose_allocation
from server.inventory.ledger import KINDS as MOVEMENT_KINDS
from server.inventory.reservations import (
    HOLD,
    InsufficientStock,
    list_reservations,
    mark_shipped,
    reconcile_orders,
    release_backorders,
)
from server.inventory.stock import (
    NegativeStock,
    adjust,
    availability,
    get_level,
    list_levels,
    list_movements,
    receive,
    resolve_skus,
)
from server.inventory.warehouses import create_warehouse, list_warehouses, resolve_warehouse, update_warehouse

__all__ = [
    "HOLD",
    "MOVEMENT_KINDS",
    "Candidate",
    "InsufficientStock",
    "LineDemand",
    "NegativeStock",
    "adjust",
    "availability",
    "choose_allocation",
    "create_warehouse",
    "get_level",
    "list_levels",
    "list_movements",
    "list_reservations",
    "list_warehouses",
    "mark_shipped",
    "receive",
    "reconcile_orders",
    "release_backorders",
    "resolve_skus",
    "resolve_warehouse",
    "update_warehouse",
]
