"""Sign-in and sign-out through the real pages: cookies, errors, throttling, CSRF, redirects."""
from __future__ import annotations

import dataclasses
from urllib.parse import quote

import httpx
import pytest

from server.core import db
from tests.support.fixtures import login
from tests.web.conftest import form, hx, sign_in


def session_cookie_header(response) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("oms_session=")]
    assert headers, response.headers
    return headers[0]


async def test_login_page_has_a_csrf_protected_form(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert "<form" in response.text and 'name="_csrf"' in response.text
    token = client.cookies.get("oms_csrf")
    assert token and f'value="{token}"' in response.text


async def test_login_then_dashboard_then_logout(client, users):
    user = await users.make("admin")
    response = await login(client, user["email"], user["password"])
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = await client.get("/")
    assert page.status_code == 200
    assert user["email"] in page.text and user["merchant"]["name"] in page.text

    response = await client.post("/logout", data=form(client))
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "Max-Age=0" in session_cookie_header(response)
    assert await db.fetchval("SELECT count(*) FROM user_session WHERE user_id = $1", user["id"]) == 0
    after = await client.get("/")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    signed_out = await client.get("/login")
    assert "You have signed out." in signed_out.text


async def test_session_cookie_flags_in_test_settings(client, users):
    user = await users.make("operations")
    response = await login(client, user["email"], user["password"])
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


async def test_session_cookie_is_secure_in_production(app, users, monkeypatch):
    from server.auth import middleware
    from server.settings import get_settings

    production = dataclasses.replace(get_settings(), env="production")
    monkeypatch.setattr(middleware, "get_settings", lambda: production)
    user = await users.make("operations")
    # Secure cookies only travel over https, as in production behind TLS
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        response = await login(client, user["email"], user["password"])
        assert response.status_code == 303
        cookie = session_cookie_header(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert all("Secure" in h for h in response.headers.get_list("set-cookie"))


async def test_wrong_password_shows_a_clear_message(client, users):
    user = await users.make("admin")
    response = await login(client, user["email"], "not-the-password-1")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert f'value="{user["email"]}"' in response.text  # the email is kept in the form
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("oms_session=")]


async def test_unknown_email_gets_the_same_message(client, db):
    response = await login(client, "nobody@example.com", "whatever-123")
    assert response.status_code == 401 and "Wrong email or password." in response.text


async def test_throttled_after_five_failures(client, users):
    user = await users.make("admin")
    for _ in range(5):
        assert (await login(client, user["email"], "wrong-password-1")).status_code == 401
    response = await login(client, user["email"], user["password"])  # even the right password
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text
    assert int(response.headers["retry-after"]) > 0
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("oms_session=")]


async def test_login_without_or_with_wrong_csrf_is_refused(client, users):
    user = await users.make("admin")
    await client.get("/login")
    missing = await client.post("/login", data={"email": user["email"], "password": user["password"]})
    assert missing.status_code == 403
    wrong = await client.post("/login", data={"email": user["email"], "password": user["password"],
                                              "_csrf": "forged-token"})
    assert wrong.status_code == 403
    assert "The form expired or came from another site" in wrong.text
    assert await db.fetchval("SELECT count(*) FROM user_session") == 0


async def test_other_form_post_needs_csrf(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    fields = {"email": "new@example.com", "role": "operations", "name": "New"}
    missing = await client.post("/users", data=fields)
    assert missing.status_code == 403
    wrong = await client.post("/users", data={**fields, "_csrf": "forged-token"})
    assert wrong.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM app_user WHERE email = 'new@example.com'") == 0
    ok = await client.post("/users", data=form(client, **fields))
    assert ok.status_code == 200


async def test_htmx_post_needs_the_csrf_header(client, users):
    admin = await users.make("admin")
    other = await users.make("operations", merchant=admin["merchant"])
    await sign_in(client, admin)
    headers = {**hx(client), "X-CSRF-Token": "forged-token"}
    response = await client.post(f"/users/{other['id']}/deactivate", headers=headers)
    assert response.status_code == 403
    assert "<html" not in response.text and "The form expired" in response.text  # an htmx fragment
    assert await db.fetchval("SELECT is_active FROM app_user WHERE id = $1", other["id"]) is True
    response = await client.post(f"/users/{other['id']}/deactivate", headers=hx(client))
    assert response.status_code == 200
    assert await db.fetchval("SELECT is_active FROM app_user WHERE id = $1", other["id"]) is False


async def test_logout_requires_csrf(client, users):
    user = await users.make("admin")
    await sign_in(client, user)
    response = await client.post("/logout")
    assert response.status_code == 403
    assert (await client.get("/")).status_code == 200  # still signed in
    assert await db.fetchval("SELECT count(*) FROM user_session WHERE user_id = $1", user["id"]) == 1


async def test_anonymous_pages_redirect_to_login_with_next(client, db):
    response = await client.get("/users?role=admin")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/users?role=admin", safe="")
    htmx = await client.get("/users", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/audit"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=%2Faudit"


async def test_next_takes_the_user_back_to_a_local_page(client, users):
    user = await users.make("admin")
    page = await client.get("/login?next=/users%3Frole%3Dadmin")
    assert 'name="next" value="/users?role=admin"' in page.text
    response = await client.post("/login", data=form(client, email=user["email"], password=user["password"],
                                                     next="/users?role=admin"))
    assert response.status_code == 303 and response.headers["location"] == "/users?role=admin"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/path", "/\\evil.example", "\\\\evil.example",
    "http:/evil.example", "javascript:alert(1)", "evil.example", "/\tevil", "/login?next=//evil.example",
])
async def test_next_never_leaves_the_site(client, users, target):
    user = await users.make("admin")
    await client.get("/login")
    response = await client.post("/login", data=form(client, email=user["email"], password=user["password"],
                                                     next=target))
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_encoded_line_breaks_in_next_stay_a_local_path(client, users):
    user = await users.make("admin")
    await client.get("/login")
    response = await client.post("/login", data=form(client, email=user["email"], password=user["password"],
                                                     next="/%0d%0aSet-Cookie:x=1"))
    assert response.headers["location"] == "/%0d%0aSet-Cookie:x=1"
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("x=")]


async def test_signed_in_user_visiting_login_goes_on(client, users):
    user = await users.make("admin")
    await sign_in(client, user)
    response = await client.get("/login?next=/audit")
    assert response.status_code == 303 and response.headers["location"] == "/audit"
