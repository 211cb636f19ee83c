"""Texts the pages show for things named elsewhere: service error codes, role names, permission
descriptions and audit actions. The English texts of roles and permissions live in
server/auth/roles.py; they are repeated here inside N_() only so that extraction finds them
(tests/web/test_i18n.py fails when one is missing from the catalog)."""
from __future__ import annotations

import math

from server.auth.roles import PERMISSIONS, ROLE_LABELS
from server.core.errors import DomainError, RateLimited
from server.core.i18n import gettext_for
from web.nav import N_

# Role labels (server/auth/roles.py ROLE_LABELS).
N_("Administrator")
N_("Operations")
N_("Customer service")
N_("Warehouse")
N_("Finance")
N_("Partner (read-only)")

# Permission descriptions (server/auth/roles.py PERMISSIONS).
N_("See staff users")
N_("Create users, change roles, deactivate")
N_("Create and revoke API keys")
N_("Read the audit trail")
N_("See products and SKUs")
N_("Create and change products, SKUs and listings")
N_("See channels and their sync health")
N_("Create and configure channels, sync now")
N_("See orders")
N_("See receivers' full phone numbers and addresses")
N_("Create orders (staff form, CSV, partner API)")
N_("Change orders: hold, tag, note, address, cancel")
N_("Export orders to CSV")
N_("See stock levels and movements")
N_("Receive, adjust and count stock")
N_("Warehouses, transfers, alert rules, channel stock policies")
N_("Mark orders shipped, print labels")
N_("See amounts, refunds and costs")
N_("Export financial data")

# Permission groups (the part before the dot), for the roles matrix.
PERMISSION_GROUPS = {
    "users": N_("Staff & security"),
    "apikeys": N_("Staff & security"),
    "audit": N_("Staff & security"),
    "catalog": N_("Catalog"),
    "channels": N_("Channels"),
    "orders": N_("Orders"),
    "inventory": N_("Inventory"),
    "fulfillment": N_("Fulfillment"),
    "finance": N_("Finance"),
}

# Audit actions, readable. Unknown actions are shown by their code.
AUDIT_ACTIONS = {
    "user.create": N_("Created a user"),
    "user.update": N_("Changed a user"),
    "user.login": N_("Signed in"),
    "user.logout": N_("Signed out"),
    "user.password_change": N_("Changed their password"),
    "user.password_reset": N_("Password reset by an operator"),
    "apikey.create": N_("Created an API key"),
    "apikey.revoke": N_("Revoked an API key"),
}

OBJECT_TYPES = {
    "user": N_("User"),
    "api_key": N_("API key"),
}

# Audit field names, readable.
FIELD_LABELS = {
    "email": N_("Email"),
    "name": N_("Name"),
    "role": N_("Role"),
    "language": N_("Language"),
    "timezone": N_("Timezone"),
    "is_active": N_("Active"),
    "prefix": N_("Prefix"),
    "revoked_at": N_("Revoked"),
    "created_at": N_("Created"),
    "updated_at": N_("Updated"),
    "last_login_at": N_("Last sign-in"),
    "merchant_id": N_("Merchant"),
    "id": N_("ID"),
}

# Service error codes -> what the person reading the page is told.
ERROR_MESSAGES = {
    "invalid_credentials": N_("Wrong email or password."),
    "login_required": N_("Please sign in to continue."),
    "unauthenticated": N_("Please sign in to continue."),
    "duplicate_email": N_("A user with this email already exists."),
    "invalid_email": N_("Enter a valid email address."),
    "weak_password": N_("Use at least 10 characters, mixing letters with digits or symbols."),
    "wrong_password": N_("Your current password is not correct."),
    "password_mismatch": N_("The two new passwords do not match."),
    "self_role": N_("You cannot change your own role."),
    "self_deactivate": N_("You cannot deactivate your own account."),
    "invalid_role": N_("Choose one of the built-in roles."),
    "invalid_language": N_("Choose English or Chinese."),
    "invalid_timezone": N_("Choose a timezone from the list."),
    "required": N_("This field is required."),
    "not_found": N_("We could not find that. It may have been removed, or the link is wrong."),
    "invalid_cursor": N_("This page link has expired. Start again from the first page."),
    "invalid_date": N_("Enter dates as YYYY-MM-DD."),
    "csrf_failed": N_("The form expired or came from another site. Reload the page and try again."),
}


def error_message(exc: DomainError, lang: str, role: str | None = None) -> str:
    """The translated, human message for a service error (the service's own text as fallback).
    `role` (the reader's) makes a permission message say which role lacks what."""
    t = gettext_for(lang)
    if isinstance(exc, RateLimited) or exc.code == "login_throttled":
        minutes = max(1, math.ceil(getattr(exc, "retry_after", 60) / 60))
        return t.ngettext("Too many failed sign-ins. Try again in %(n)d minute.",
                          "Too many failed sign-ins. Try again in %(n)d minutes.", minutes) % {"n": minutes}
    if exc.code == "permission_denied":
        permission = exc.details.get("permission")
        if permission and role:
            return t.gettext("Your role (%(role)s) does not include the permission “%(permission)s”.") % {
                "role": t.gettext(ROLE_LABELS.get(role, role)),
                "permission": t.gettext(PERMISSIONS.get(permission, permission))}
        if permission:
            return t.gettext("Your role does not allow this: %(permission)s") % {
                "permission": t.gettext(PERMISSIONS.get(permission, permission))}
        return t.gettext("You cannot grant a role that has permissions you do not hold yourself.")
    if exc.code in ERROR_MESSAGES:
        return t.gettext(ERROR_MESSAGES[exc.code])
    message = exc.message or t.gettext("Something went wrong.")
    return message[:1].upper() + message[1:]


# Orders: statuses (with the badge tone each is shown in) and hold reasons; unknown codes are
# shown as they are.
ORDER_STATUS_LABELS = {
    "pending_payment": N_("Pending payment"),
    "awaiting_review": N_("Awaiting review"),
    "ready": N_("Ready"),
    "in_fulfillment": N_("In fulfilment"),
    "partially_shipped": N_("Partially shipped"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "completed": N_("Completed"),
    "on_hold": N_("On hold"),
    "cancelled": N_("Cancelled"),
}
ORDER_STATUS_TONES = {
    "pending_payment": "neutral", "awaiting_review": "info", "ready": "info", "in_fulfillment": "info",
    "partially_shipped": "warning", "shipped": "success", "delivered": "success", "completed": "success",
    "on_hold": "warning", "cancelled": "danger",
}
ORDER_HOLD_LABELS = {
    "unmatched_sku": N_("A line matches no SKU"),
    "out_of_stock": N_("Out of stock"),
}
