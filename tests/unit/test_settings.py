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
