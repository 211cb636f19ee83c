"""Platform name -> connector class. Each platform package registers itself on import."""
from __future__ import annotations

import importlib

from server.channels.connectors.base import Connector
from server.core.errors import ValidationError

PLATFORMS = ("shopify", "woocommerce", "taobao", "jd", "pinduoduo", "douyin", "amazon", "website", "pos")

_loaded: dict[str, type[Connector]] = {}


def get(platform: str) -> type[Connector]:
    if platform not in PLATFORMS:
        raise ValidationError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}",
                              code="unknown_platform", field="platform")
    if platform not in _loaded:
        module = importlib.import_module(f"server.channels.connectors.{platform}")
        _loaded[platform] = module.CONNECTOR
    return _loaded[platform]


def all_connectors() -> dict[str, type[Connector]]:
    return {p: get(p) for p in PLATFORMS}
