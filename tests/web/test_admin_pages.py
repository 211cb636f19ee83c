"""The admin pages doing their work: users, roles, API keys, audit, profile, htmx fragments."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from server.auth import apikeys
from server.auth import service as auth_service
from server.core import db
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


async def admin_client(client, users):
    admin = await users.make("admin", email="chief@example.com")
    await sign_in(client, admin)
    return admin


# -- users --------------------------------------------------------------------------------------

async def test_create_user_with_generated_password_shown_once(client, users):
    await admin_client(client, users)
    response = await client.post("/users", headers=hx(client),
                                 data={"email": "li.na@example.com", "name": "Li Na", "role": "warehouse"})
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="user-create"' in response.text
    assert response.headers["hx-trigger"] == "users-changed"  # the list reloads itself
    match = re.search(r'<code class="secret-value" data-secret>([^<]+)</code>', response.text)
    assert match, response.text
    generated = match.group(1)
    assert len(generated) >= 12
    assert (await auth_service.login("li.na@example.com", generated)).user["role"] == "warehouse"
    # shown once: neither the list nor the user's page nor the next form shows it again
    for path in ("/users", "/audit"):
        assert generated not in (await client.get(path)).text
    user_id = await db.fetchval("SELECT id FROM app_user WHERE email = 'li.na@example.com'")
    assert generated not in (await client.get(f"/users/{user_id}")).text


async def test_create_user_with_chosen_password_shows_no_secret(client, users):
    await admin_client(client, users)
    response = await client.post("/users", data=form(client, email="chen@example.com", role="finance",
                                                     password="Chosen-pass-123"))
    assert response.status_code == 200 and "<!doctype html>" in response.text  # a full page without htmx
    assert "chen@example.com can now sign in." in response.text
    assert "data-secret" not in response.text and "Chosen-pass-123" not in response.text
    assert (await auth_service.login("chen@example.com", "Chosen-pass-123")).user["role"] == "finance"


async def test_create_user_errors_render_as_422_fragment(client, users):
    await admin_client(client, users)
    before = await db.fetchval("SELECT count(*) FROM app_user")
    bad_email = await client.post("/users", headers=hx(client), data={"email": "not-an-email", "role": "operations"})
    assert bad_email.status_code == 422 and "<html" not in bad_email.text
    assert "Enter a valid email address." in bad_email.text and 'value="not-an-email"' in bad_email.text
    weak = await client.post("/users", headers=hx(client),
                             data={"email": "ok@example.com", "role": "operations", "password": "short"})
    assert weak.status_code == 422 and "Use at least 10 characters" in weak.text
    duplicate = await client.post("/users", headers=hx(client), data={"email": "chief@example.com", "role": "finance"})
    assert duplicate.status_code == 422 and "A user with this email already exists." in duplicate.text
    full = await client.post("/users", data=form(client, email="not-an-email", role="operations"))
    assert full.status_code == 422 and "<!doctype html>" in full.text and "Enter a valid email address." in full.text
    assert await db.fetchval("SELECT count(*) FROM app_user") == before


async def test_change_role_and_deactivate_and_reactivate(client, users):
    admin = await admin_client(client, users)
    staff = await users.make("warehouse", merchant=admin["merchant"], email="staff@example.com")
    staff_session = (await auth_service.login(staff["email"], staff["password"])).token

    row = await client.post(f"/users/{staff['id']}/role", headers=hx(client), data={"role": "finance"})
    assert row.status_code == 200 and row.text.lstrip().startswith("<tr")
    assert re.search(r'<option value="finance"[^>]*selected', row.text)
    assert await db.fetchval("SELECT role FROM app_user WHERE id = $1", staff["id"]) == "finance"
    assert await auth_service.actor_for_session(staff_session) is None  # a role change ends sessions

    row = await client.post(f"/users/{staff['id']}/deactivate", headers=hx(client))
    assert row.status_code == 200 and "Deactivated" in row.text and "Reactivate" in row.text
    assert await db.fetchval("SELECT is_active FROM app_user WHERE id = $1", staff["id"]) is False

    # without htmx: a redirect back with a flash message
    back = await client.post(f"/users/{staff['id']}/activate", data=form(client, next="/users?active=1"))
    assert back.status_code == 303 and back.headers["location"] == "/users?active=1"
    assert await db.fetchval("SELECT is_active FROM app_user WHERE id = $1", staff["id"]) is True
    assert "User reactivated." in (await client.get("/users")).text


async def test_edit_page_saves_name_and_role(client, users):
    admin = await admin_client(client, users)
    staff = await users.make("warehouse", merchant=admin["merchant"])
    page = await client.get(f"/users/{staff['id']}")
    assert page.status_code == 200 and staff["email"] in page.text and "Recent changes" in page.text
    saved = await client.post(f"/users/{staff['id']}", data=form(client, name="Zhang San", role="operations"))
    assert saved.status_code == 303 and saved.headers["location"] == f"/users/{staff['id']}"
    row = await db.fetchrow("SELECT name, role FROM app_user WHERE id = $1", staff["id"])
    assert (row["name"], row["role"]) == ("Zhang San", "operations")
    again = await client.get(f"/users/{staff['id']}")
    assert "Changes saved." in again.text and "Zhang San" in again.text


async def test_cannot_deactivate_oneself(client, users):
    admin = await admin_client(client, users)
    response = await client.post(f"/users/{admin['id']}/deactivate", headers=hx(client))
    assert response.status_code == 422
    assert "You cannot deactivate your own account." in response.text
    assert response.headers["hx-retarget"] == "#flashes"
    assert await db.fetchval("SELECT is_active FROM app_user WHERE id = $1", admin["id"]) is True


async def test_users_filters_and_load_more(client, users):
    admin = await admin_client(client, users)
    for i in range(27):
        await users.make("warehouse" if i % 2 else "finance", merchant=admin["merchant"], email=f"p{i:02d}@example.com")
    first = await client.get("/users")
    assert first.text.count('<tr id="user-') == 25
    more = re.search(r'hx-get="(/users\?[^"]*after=[^"]+)"', first.text)
    assert more, "a load-more link"
    rows = await client.get(more.group(1).replace("&amp;", "&"), headers=hx(client))
    assert rows.status_code == 200 and rows.text.count('<tr id="user-') == 3
    assert "<table" not in rows.text and "load-more-row" not in rows.text  # the last page

    finance = await client.get("/users?role=finance", headers=hx(client))
    assert 'id="user-list"' in finance.text and "<html" not in finance.text
    assert finance.text.count('<tr id="user-') == 14
    searched = await client.get("/users?q=p07", headers=hx(client))
    assert searched.text.count('<tr id="user-') == 1 and "p07@example.com" in searched.text
    inactive = await client.get("/users?active=0", headers=hx(client))
    assert "No users match these filters." in inactive.text


async def test_roles_section_lists_every_role_and_permission(client, users):
    await admin_client(client, users)
    page = await client.get("/users")
    text = text_of(page.text)
    for label in ("Administrator", "Operations", "Customer service", "Warehouse", "Finance", "Partner (read-only)"):
        assert label in text
    assert "Create and revoke API keys" in text and "apikeys.manage" in text


# -- API keys -----------------------------------------------------------------------------------

async def test_api_key_full_key_shown_once_then_prefix_only(client, users):
    await admin_client(client, users)
    response = await client.post("/api-keys", headers=hx(client), data={"name": "POS till 1", "role": "partner_readonly"})
    assert response.status_code == 200 and response.headers["hx-trigger"] == "keys-changed"
    key = re.search(r"data-secret>(oms_[^<]+)</code>", response.text).group(1)
    assert (await apikeys.actor_for_key(key)).role == "partner_readonly"
    listing = await client.get("/api-keys")
    prefix = key.split("_")[1]
    assert key not in listing.text and f"oms_{prefix}_" in listing.text and "POS till 1" in listing.text
    assert "just now" in rows_text(listing.text, "key-rows")  # last used: the key was used above
    assert key not in (await client.get("/audit")).text


async def test_api_key_errors_and_revoke(client, users):
    admin = await admin_client(client, users)
    nameless = await client.post("/api-keys", headers=hx(client), data={"name": "  ", "role": "partner_readonly"})
    assert nameless.status_code == 422 and "This field is required." in nameless.text
    record, key = await apikeys.create(admin["actor"], name="ERP sync", role="operations")
    revoked = await client.post(f"/api-keys/{record['id']}/revoke", headers=hx(client))
    assert revoked.status_code == 200 and revoked.text.lstrip().startswith("<tr") and "Revoked" in revoked.text
    assert "Revoke</span>" not in revoked.text  # no second revoke button
    assert await apikeys.actor_for_key(key) is None
    plain = await client.post(f"/api-keys/{record['id']}/revoke", data=form(client))  # idempotent, full flow
    assert plain.status_code == 303
    assert "API key ERP sync revoked." in (await client.get("/api-keys")).text


# -- audit --------------------------------------------------------------------------------------

async def test_audit_lists_actions_with_filters(client, users):
    admin = await admin_client(client, users)
    staff = await users.make("warehouse", merchant=admin["merchant"], email="picker@example.com")
    await client.post(f"/users/{staff['id']}/role", headers=hx(client), data={"role": "operations"})
    await client.post("/api-keys", headers=hx(client), data={"name": "Website", "role": "partner_readonly"})
    key_id = await db.fetchval("SELECT id FROM api_key WHERE name = 'Website'")
    await client.post(f"/api-keys/{key_id}/revoke", headers=hx(client))

    page = await client.get("/audit")
    text = rows_text(page.text)
    for shown in ("Changed a user", "Created an API key", "Revoked an API key", "Signed in", "chief@example.com"):
        assert shown in text, shown
    assert "Warehouse → Operations" in text  # before/after, readable

    only_keys = rows_text((await client.get("/audit?action=apikey.*", headers=hx(client))).text)
    assert "Revoked an API key" in only_keys and "Changed a user" not in only_keys
    by_object = rows_text((await client.get(f"/audit?object_type=user&object_id={staff['id']}")).text)
    assert "Changed a user" in by_object and "Revoked an API key" not in by_object
    by_actor = rows_text((await client.get("/audit?actor_q=system")).text)
    assert "system:test" in by_actor and "Revoked an API key" not in by_actor
    future = rows_text((await client.get("/audit?since=2999-01-01")).text)
    assert "Nothing recorded matches these filters." in future
    today = rows_text((await client.get("/audit?until=2999-01-01&since=2000-01-01")).text)
    assert "Revoked an API key" in today
    bad = await client.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "Enter dates as YYYY-MM-DD." in bad.text


async def test_audit_keyset_pages(client, users):
    admin = await admin_client(client, users)
    for i in range(30):
        await auth_service.update_user(admin["actor"], admin["id"], name=f"Name {i}")
    first = await client.get("/audit?action=user.update")
    assert first.text.count("<tr>") - 1 == 25  # minus the header row
    more = re.search(r'hx-get="(/audit\?[^"]*after=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    rest = await client.get(more, headers=hx(client))
    assert rest.text.count("<tr>") == 5 and "<thead>" not in rest.text
    assert "Name 0" in text_of(rest.text) and "Name 29" in text_of(first.text)


# -- profile, language, timezone ----------------------------------------------------------------

async def test_profile_language_switch_changes_the_pages(client, users):
    admin = await admin_client(client, users)
    saved = await client.post("/profile", data=form(client, name="Chief", language="zh", timezone="Asia/Shanghai"))
    assert saved.status_code == 303
    assert await db.fetchval("SELECT language FROM app_user WHERE id = $1", admin["id"]) == "zh"
    profile = await client.get("/profile")
    assert "偏好设置已保存。" in profile.text  # the flash is already in the new language
    home = await client.get("/")
    assert '<html lang="zh-CN">' in home.text
    assert "工作台" in home.text and "你的角色拥有的权限" in home.text and "管理员" in home.text
    users_page = await client.get("/users")
    assert "用户与角色" in users_page.text and "创建用户" in users_page.text
    # and back through the header switcher
    back = await client.post("/language", data=form(client, lang="en", next="/users"))
    assert back.status_code == 303 and back.headers["location"] == "/users"
    assert "Users &amp; roles" in (await client.get("/users")).text


async def test_anonymous_language_from_cookie_or_accept_language(client, db):
    chinese = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "欢迎回来" in chinese.text
    english = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Welcome back" in english.text
    switched = await client.post("/language", data=form(client, lang="zh", next="/login?next=%2Faudit"))
    assert switched.status_code == 303 and switched.headers["location"] == "/login?next=%2Faudit"
    away = await client.post("/language", data=form(client, lang="zh", next="https://evil.example/"))
    assert away.headers["location"] == "/"
    assert any(h.startswith("lang=zh") for h in switched.headers.get_list("set-cookie"))
    assert "欢迎回来" in (await client.get("/login", headers={"Accept-Language": "en"})).text


async def test_chinese_error_messages(client, users):
    user = await users.make("admin")
    await auth_service.update_user(user["actor"], user["id"], language="zh")
    await client.get("/login", headers={"Accept-Language": "zh-CN"})
    wrong = await client.post("/login", headers={"Accept-Language": "zh-CN"},
                              data=form(client, email=user["email"], password="wrong-password-1"))
    assert "邮箱或密码错误。" in wrong.text
    await sign_in(client, user)
    bad = await client.post("/users", headers=hx(client), data={"email": "x", "role": "operations"})
    assert "请输入有效的邮箱地址。" in bad.text


async def test_times_are_shown_in_the_users_timezone(client, users):
    admin = await admin_client(client, users)
    created_at = await db.fetchval("SELECT created_at FROM app_user WHERE id = $1", admin["id"])

    def shown(tz: str) -> str:
        return created_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")

    assert shown("Asia/Shanghai") in (await client.get(f"/users/{admin['id']}")).text
    await client.post("/profile", data=form(client, name="Chief", language="en", timezone="America/New_York"))
    page = await client.get(f"/users/{admin['id']}")
    assert shown("America/New_York") in page.text
    assert shown("Asia/Shanghai") not in page.text
    bad = await client.post("/profile", data=form(client, language="en", timezone="Mars/Olympus"))
    assert bad.status_code == 422 and "Choose a timezone from the list." in bad.text


async def test_change_password(client, users):
    admin = await admin_client(client, users)
    wrong = await client.post("/profile/password", headers=hx(client),
                              data={"current": "nope-nope-123", "new": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"})
    assert wrong.status_code == 422 and "Your current password is not correct." in wrong.text
    mismatch = await client.post("/profile/password", headers=hx(client),
                                 data={"current": admin["password"], "new": "Brand-new-pass-1", "confirm": "Other-pass-12"})
    assert mismatch.status_code == 422 and "The two new passwords do not match." in mismatch.text
    ok = await client.post("/profile/password", headers=hx(client),
                           data={"current": admin["password"], "new": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"})
    assert ok.status_code == 200 and "Your password is changed." in ok.text and "<html" not in ok.text
    assert await auth_service.login(admin["email"], "Brand-new-pass-1")


# -- full pages and fragments -------------------------------------------------------------------

async def test_full_page_versus_htmx_fragment(client, users):
    await admin_client(client, users)
    for path, marker in (("/users", 'id="user-list"'), ("/api-keys", 'id="key-list"'), ("/audit", 'id="audit-list"')):
        full = await client.get(path)
        fragment = await client.get(path, headers=hx(client))
        assert full.text.startswith("<!doctype html>") and 'class="sidebar"' in full.text, path
        assert marker in full.text and marker in fragment.text, path
        assert "<html" not in fragment.text and "sidebar" not in fragment.text, path
        assert "HX-Request" in full.headers["vary"]
    boosted = await client.get("/users", headers={**hx(client), "HX-Boosted": "true"})
    assert boosted.text.startswith("<!doctype html>")


async def test_every_page_sends_the_csrf_token_to_htmx(client, users):
    await admin_client(client, users)
    token = client.cookies.get("oms_csrf")
    for path in ("/", "/users", "/api-keys", "/audit", "/profile"):
        page = (await client.get(path)).text
        assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page, path
        forms = re.findall(r"<form\b([^>]*)>(.*?)</form>", page, flags=re.S)
        posting = [body for attrs, body in forms if 'method="post"' in attrs]
        assert posting, path  # at least the sign-out and language forms
        for body in posting:
            assert f'<input type="hidden" name="_csrf" value="{token}">' in body, (path, body[:200])
        assert all('method="get"' in attrs or 'method="post"' in attrs for attrs, _ in forms), path


async def test_unknown_ids_answer_404_pages(client, users):
    await admin_client(client, users)
    page = await client.get("/users/987654")
    assert page.status_code == 404 and "<!doctype html>" in page.text and "We could not find that" in page.text


async def test_unknown_pages_and_methods_answer_html_to_browsers(client, users):
    browser = {"Accept": "text/html,application/xhtml+xml"}
    anonymous = await client.get("/no-such-page", headers=browser)
    assert anonymous.status_code == 404 and "There is no page at this address." in anonymous.text
    assert 'class="sidebar"' not in anonymous.text  # the bare layout for visitors
    assert 'href="/"' in anonymous.text and 'action="/language"' not in anonymous.text  # no session here
    await admin_client(client, users)
    signed_in = await client.get("/no-such-page", headers=browser)  # unrouted: no middleware, no actor
    assert signed_in.status_code == 404 and "There is no page at this address." in signed_in.text
    wrong_method = await client.get("/logout", headers=browser)
    assert wrong_method.status_code == 405 and "This page cannot be used that way." in wrong_method.text
