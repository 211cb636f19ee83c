"""The inventory service: the one writer of warehouses, stock levels, the ledger and reservations.

Pages, GraphQL, CSV imports and jobs call these names; the modules behind them are split by aggregate
(warehouses, stock, reservations, fulfilment) with the pure warehouse choice in allocation, the
out_of_stock hold in holds, and the low-level level+ledger write in ledger.
"""
from server.inventory.allocation import Candidate, LineDemand, choose_allocation
from server.inventory.fulfilment import list_reservations, mark_shipped
from server.inventory.ledger import KINDS as MOVEMENT_KINDS
from server.inventory.reservations import HOLD, InsufficientStock, reconcile_orders, release_backorders
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
