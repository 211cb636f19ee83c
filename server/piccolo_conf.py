"""Piccolo's entry point: the one engine and the one app (one migration history)."""
from piccolo.conf.apps import AppRegistry

from server.core.db import DB  # noqa: F401 - Piccolo reads DB from this module

APP_REGISTRY = AppRegistry(apps=["server.piccolo_app"])
