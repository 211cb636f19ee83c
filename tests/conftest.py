"""Test session: real PostgreSQL and Redis started by the same code as `make run`, in a data folder
of this session's own (so parallel sessions never share a server), unless OMS_TEST_DATABASE_URL and
OMS_TEST_REDIS_URL are given. Migrations run once; each DB test ends by truncating every table."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_OWN_DIR = ROOT / ".oms" / "test" / str(os.getpid())


def pytest_configure(config: pytest.Config) -> None:
    import logging

    for noisy in ("httpx", "httpcore", "faker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ["OMS_ENV"] = "test"
    os.environ.setdefault("OMS_SANDBOX", "false")
    os.environ["OMS_LOGIN_MAX_FAILURES"] = os.environ.get("OMS_LOGIN_MAX_FAILURES", "5")
    if os.environ.get("OMS_TEST_DATABASE_URL") and os.environ.get("OMS_TEST_REDIS_URL"):
        os.environ["OMS_DATABASE_URL"] = os.environ["OMS_TEST_DATABASE_URL"]
        os.environ["OMS_REDIS_URL"] = os.environ["OMS_TEST_REDIS_URL"]
        os.environ.setdefault("OMS_DATA_DIR", str(_OWN_DIR))
        return
    from server import devservices

    os.environ["OMS_DATA_DIR"] = str(_OWN_DIR)
    os.environ["OMS_DATABASE_URL"] = devservices.pg_url(_OWN_DIR, "oms")
    os.environ["OMS_REDIS_URL"] = devservices.redis_url(_OWN_DIR)


pytest_plugins = ["tests.support.fixtures"]


def pytest_unconfigure(config: pytest.Config) -> None:
    from server import devservices

    if _OWN_DIR.exists() and not os.environ.get("OMS_TEST_DATABASE_URL"):
        devservices.down(_OWN_DIR)
        shutil.rmtree(_OWN_DIR, ignore_errors=True)
