"""Built-in roles and their explicit permission sets. The policy module is the only reader."""
from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    # staff & security
    "users.view": "See staff users",
    "users.manage": "Create users, change roles, deactivate",
    "apikeys.manage": "Create and revoke API keys",
    "audit.view": "Read the audit trail",
    # catalogue & channels
    "catalog.view": "See products and SKUs",
    "catalog.manage": "Create and change products, SKUs and listings",
    "channels.view": "See channels and their sync health",
    "channels.manage": "Create and configure channels, sync now",
    # orders
    "orders.view": "See orders",
    "orders.view_pii": "See receivers' full phone numbers and addresses",
    "orders.create": "Create orders (staff form, CSV, partner API)",
    "orders.manage": "Change orders: hold, tag, note, address, cancel",
    "orders.export": "Export orders to CSV",
    # inventory & fulfilment
    "inventory.view": "See stock levels and movements",
    "inventory.adjust": "Receive, adjust and count stock",
    "inventory.manage": "Warehouses, transfers, alert rules, channel stock policies",
    "fulfillment.ship": "Mark orders shipped, print labels",
    # money
    "finance.view": "See amounts, refunds and costs",
    "finance.export": "Export financial data",
}
ALL_PERMISSIONS = frozenset(PERMISSIONS)

_VIEW_ALL = {p for p in PERMISSIONS if p.endswith(".view")} - {"users.view", "audit.view"}

ROLES: dict[str, frozenset[str]] = {
    "admin": ALL_PERMISSIONS,
    "operations": frozenset(_VIEW_ALL | {
        "orders.view_pii", "orders.create", "orders.manage", "orders.export", "catalog.manage",
        "channels.manage", "inventory.adjust", "fulfillment.ship",
    }),
    "customer_service": frozenset({
        "orders.view", "orders.view_pii", "orders.manage", "orders.create", "catalog.view",
        "channels.view", "inventory.view",
    }),
    "warehouse": frozenset({
        "orders.view", "orders.view_pii", "catalog.view", "inventory.view", "inventory.adjust",
        "inventory.manage", "fulfillment.ship",
    }),
    "finance": frozenset({
        "orders.view", "orders.export", "catalog.view", "channels.view", "inventory.view",
        "finance.view", "finance.export", "audit.view",
    }),
    "partner_readonly": frozenset({
        "orders.view", "catalog.view", "channels.view", "inventory.view",
    }),
}

ROLE_LABELS = {
    "admin": "Administrator",
    "operations": "Operations",
    "customer_service": "Customer service",
    "warehouse": "Warehouse",
    "finance": "Finance",
    "partner_readonly": "Partner (read-only)",
}


def permissions_for(role: str) -> frozenset[str]:
    return ROLES.get(role, frozenset())
