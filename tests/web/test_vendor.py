"""The vendored htmx is exactly the file recorded in VENDORED.md, and it is served."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor"


def recorded() -> dict[str, tuple[str, str]]:
    """{file: (version, sha256)} from the table in VENDORED.md."""
    rows = {}
    for line in (VENDOR / "VENDORED.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[0-9a-f]{64}", cells[4]):
            rows[cells[0]] = (cells[2], cells[4])
    return rows


def test_htmx_sha256_matches_vendored_md():
    version, sha = recorded()["htmx.min.js"]
    data = (VENDOR / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha
    assert re.match(r"2\.\d+\.\d+$", version)
    assert f'version:"{version}"'.encode() in data  # the file is the version the table says


def test_every_vendored_file_is_recorded():
    files = {p.name for p in VENDOR.iterdir() if p.name != "VENDORED.md"}
    assert files == set(recorded())


async def test_htmx_is_served_and_loaded_by_every_page(client):
    response = await client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == recorded()["htmx.min.js"][1]
    login = await client.get("/login")
    assert '<script src="/static/vendor/htmx.min.js"' in login.text
    css = await client.get("/static/css/oms.css")
    assert css.status_code == 200 and ".sidebar" in css.text
