"""Helpers for the page tests: signed-in clients and htmx request headers."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.fixtures import csrf_headers, login, new_client


async def sign_in(client: httpx.AsyncClient, user: dict) -> httpx.AsyncClient:
    response = await login(client, user["email"], user["password"])
    assert response.status_code == 303, response.text
    return client


def hx(client: httpx.AsyncClient, **extra: str) -> dict:
    """Headers htmx sends: HX-Request plus the CSRF header from <body hx-headers>."""
    return {"HX-Request": "true", "HX-Current-URL": "http://testserver/", **csrf_headers(client), **extra}


def form(client: httpx.AsyncClient, **fields: str) -> dict:
    """A plain form post's fields, with the hidden _csrf input every form carries."""
    return {"_csrf": client.cookies.get("oms_csrf", ""), **fields}


def text_of(html: str) -> str:
    """The visible text of a page, roughly (tags dropped, whitespace collapsed)."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rows_text(html: str, tbody_id: str = "audit-rows") -> str:
    """The visible text of one table body (leaves out filters, datalists and navigation)."""
    match = re.search(rf'<tbody id="{tbody_id}">(.*?)</tbody>', html, flags=re.S)
    return text_of(match.group(1) if match else html)


@pytest.fixture
async def second_client(app, db):
    """Another browser (its own cookies)."""
    c = await new_client(app)
    try:
        yield c
    finally:
        await c.aclose()


# ---- real-browser tests (Playwright driving Debian's Chromium; see DESIGN.md §8) ----
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"   # screenshots, ignored by git
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
