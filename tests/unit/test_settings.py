import pytest

from server.settings import SettingsError, load


def test_production_names_each_missing_variable(tmp_path):
    with pytest.raises(SettingsError, match="OMS_SECRET_KEY, OMS_DATABASE_URL, OMS_REDIS_URL"):
        load({"OMS_ENV": "production", "OMS_DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="OMS_DATABASE_URL"):
        load({"OMS_ENV": "production", "OMS_SECRET_KEY": "x" * 40, "OMS_REDIS_URL": "redis://r"})


def test_production_refuses_a_short_secret():
    with pytest.raises(SettingsError, match="at least 32"):
        load({"OMS_ENV": "production", "OMS_SECRET_KEY": "short", "OMS_DATABASE_URL": "postgresql://x/y",
              "OMS_REDIS_URL": "redis://r"})


def test_production_settings_are_strict():
    s = load({"OMS_ENV": "production", "OMS_SECRET_KEY": "k" * 40, "OMS_DATABASE_URL": "postgresql://db/oms",
              "OMS_REDIS_URL": "redis://r:6379/0"})
    assert s.cookie_secure and not s.sandbox and not s.is_dev and s.log_json and not s.embedded


def test_dev_secret_is_generated_once_and_kept(tmp_path):
    first = load({"OMS_DATA_DIR": str(tmp_path)})
    second = load({"OMS_DATA_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert not first.cookie_secure and first.embedded and first.sandbox


def test_unknown_env_is_refused():
    with pytest.raises(SettingsError, match="OMS_ENV"):
        load({"OMS_ENV": "staging"})


def test_mail_is_captured_in_dev_without_smtp_and_sent_when_configured(tmp_path):
    dev = load({"OMS_DATA_DIR": str(tmp_path)})
    assert dev.mail_capture and dev.smtp_host == ""
    s = load({"OMS_DATA_DIR": str(tmp_path), "OMS_SMTP_HOST": "mail.example.com", "OMS_SMTP_PORT": "2525",
              "OMS_SMTP_USERNAME": "oms", "OMS_SMTP_PASSWORD": "pw", "OMS_SMTP_STARTTLS": "true",
              "OMS_MAIL_FROM": "stock@example.com"})
    assert not s.mail_capture and (s.smtp_host, s.smtp_port, s.smtp_username, s.smtp_password) == (
        "mail.example.com", 2525, "oms", "pw")
    assert s.smtp_starttls is True and not s.smtp_tls and s.mail_from == "stock@example.com"
    url = load({"OMS_DATA_DIR": str(tmp_path), "OMS_SMTP_URL": "smtps://u%40x:p%3Aw@smtp.example.com"})
    assert (url.smtp_host, url.smtp_port, url.smtp_username, url.smtp_password, url.smtp_tls) == (
        "smtp.example.com", 465, "u@x", "p:w", True)
    assert url.smtp_starttls is None


def test_production_never_captures_mail_and_needs_a_sender_with_smtp():
    base = {"OMS_ENV": "production", "OMS_SECRET_KEY": "k" * 40, "OMS_DATABASE_URL": "postgresql://db/oms",
            "OMS_REDIS_URL": "redis://r:6379/0"}
    assert not load(base).mail_capture
    with pytest.raises(SettingsError, match="OMS_MAIL_FROM"):
        load({**base, "OMS_SMTP_HOST": "mail.example.com"})
    assert load({**base, "OMS_SMTP_HOST": "mail.example.com", "OMS_MAIL_FROM": "a@b.c"}).smtp_host
    with pytest.raises(SettingsError, match="OMS_SMTP_URL"):
        load({**base, "OMS_SMTP_URL": "http://nope"})
