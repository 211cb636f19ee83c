"""The sidebar's area registry. Each area module registers its entry when it is imported:

    from web.nav import N_, register
    register("orders", N_("Orders"), "/orders", permission="orders.view", icon="orders", order=20)

base.html shows the entries the actor's permissions allow (through auth.policy.can), grouped by
section and sorted by `order`. Labels are English msgids, translated when rendered.
"""
from __future__ import annotations

from dataclasses import dataclass

from server.auth import policy
from server.core.actor import Actor


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (it is translated when shown)."""
    return message


# Sections in display order; an area picks one with `section=`.
SECTIONS: dict[str, str] = {
    "main": N_("Workspace"),
    "admin": N_("Administration"),
}


@dataclass(frozen=True)
class NavItem:
    key: str               # stable id; also marks the active entry (`nav_key` in a page's context)
    label: str             # English msgid, wrapped in N_() where it is written
    path: str
    permission: str | None = None   # None: every signed-in user
    icon: str = "dot"      # a name from templates/_macros/icons.html
    order: int = 100
    section: str = "main"
    description: str = ""  # one line for the dashboard's shortcuts (also an N_() msgid)


_items: dict[str, NavItem] = {}


def register(key: str, label: str, path: str, *, permission: str | None = None, icon: str = "dot",
             order: int = 100, section: str = "main", description: str = "") -> NavItem:
    """Add (or replace, on re-import) an area's entry."""
    if section not in SECTIONS:
        raise ValueError(f"unknown nav section {section!r}; choose one of {', '.join(SECTIONS)}")
    item = NavItem(key, label, path, permission, icon, order, section, description)
    _items[key] = item
    return item


def items() -> list[NavItem]:
    return sorted(_items.values(), key=lambda i: (list(SECTIONS).index(i.section), i.order, i.key))


def visible(actor: Actor | None) -> list[NavItem]:
    """The entries this actor may open."""
    if actor is None:
        return []
    return [i for i in items() if i.permission is None or policy.can(actor, i.permission)]


def grouped(actor: Actor | None) -> list[tuple[str, list[NavItem]]]:
    """[(section label msgid, [items])] for the sidebar, empty sections left out."""
    out = []
    for section, label in SECTIONS.items():
        entries = [i for i in visible(actor) if i.section == section]
        if entries:
            out.append((label, entries))
    return out
