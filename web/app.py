"""The staff admin's wiring: templates and the page routes of every area."""
from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

WEB_DIR = Path(__file__).resolve().parent


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine)


def web_routes() -> list:
    return []
