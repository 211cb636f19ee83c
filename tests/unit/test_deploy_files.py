"""The deployment files (Dockerfile, .dockerignore, docker-compose.yml, README) agree with the code:
the commands they run exist in the `oms` CLI, the variables they set exist in server/settings.py, and
the image runs as a non-root user with a health check. No Docker engine is needed to check this."""
from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from server.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker")


# -- helpers ------------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    starts = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    return instructions[starts[-1]:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def assert_oms_command(argv: list[str]) -> None:
    """`oms <sub> ...` must parse with the real CLI parser and reach a command function."""
    assert argv[0] == "oms", argv
    args = build_parser().parse_args(argv[1:])
    assert callable(args.fn), argv


def python_c_code(argv: list[str]) -> str:
    i = argv.index("-c")
    assert argv[i - 1] == "python", argv
    return argv[i + 1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_variables() -> set[str]:
    return set(re.findall(r'"(OMS_[A-Z0-9_]+)"', (ROOT / "server" / "settings.py").read_text()))


# -- the oms CLI ----------------------------------------------------------------------------------

def test_oms_console_script_points_at_the_cli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["oms"] == "server.cli:main"


# -- Dockerfile -----------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_with_a_builder():
    froms = [args for kw, args in dockerfile_instructions() if kw == "FROM"]
    assert len(froms) >= 2, froms
    assert any(re.search(r"\bAS builder\b", f, re.IGNORECASE) for f in froms), froms
    assert any(kw == "COPY" and "--from=builder" in args for kw, args in final_stage())


def test_dockerfile_base_image_is_a_slim_python_311_or_newer():
    args = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for kw, a in dockerfile_instructions() if kw == "ARG")))
    image = args.get("PYTHON_IMAGE", "")
    assert re.fullmatch(r"python:3\.(1[1-9])-slim(-\w+)?", image), image


def test_runtime_stage_runs_as_the_non_root_user_oms():
    stage = final_stage()
    users = [args for kw, args in stage if kw == "USER"]
    assert users and users[-1] == "oms", users
    assert users[-1] not in ("root", "0")
    runs = " ".join(args for kw, args in stage if kw == "RUN")
    assert re.search(r"useradd\b.*\boms\b", runs), "the runtime stage creates the oms user"
    # nothing after USER switches back
    after = stage[max(i for i, (kw, _) in enumerate(stage) if kw == "USER"):]
    assert all(kw != "USER" or args == "oms" for kw, args in after)


def test_image_has_a_python_healthcheck_on_healthz():
    checks = [args for kw, args in final_stage() if kw == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    options, _, command = checks[0].partition("CMD")
    argv = exec_form(command.strip())
    assert "curl" not in argv and "wget" not in argv        # slim images have neither
    code = python_c_code(argv)
    compile(code, "<healthcheck>", "exec")
    assert "/healthz" in code
    assert "--interval" in options and "--timeout" in options


def test_image_exposes_8000_and_serves_by_default():
    stage = final_stage()
    assert ("EXPOSE", "8000") in stage
    cmds = [args for kw, args in stage if kw == "CMD"]
    assert cmds, "the image has a default command"
    argv = exec_form(cmds[-1])
    assert argv == ["oms", "serve", "--host", "0.0.0.0"]
    assert_oms_command(argv)
    assert not [args for kw, args in stage if kw == "ENTRYPOINT"], "one image for web, worker and migrate"


def test_image_defaults_to_production_with_a_writable_data_dir():
    env = " ".join(args for kw, args in final_stage() if kw == "ENV")
    assert "OMS_ENV=production" in env
    data_dir = re.search(r"OMS_DATA_DIR=(\S+)", env)
    assert data_dir, "OMS_DATA_DIR points away from the read-only site-packages"
    runs = " ".join(args for kw, args in final_stage() if kw == "RUN")
    assert f"chown oms:oms {data_dir.group(1)}" in runs
    assert set(re.findall(r"\b(OMS_[A-Z0-9_]+)=", env)) <= settings_variables()


def test_dockerfile_compiles_catalogs_only_when_the_i18n_module_exists():
    runs = [args for kw, args in dockerfile_instructions() if kw == "RUN" and "server.core.i18n" in args]
    assert runs, "the build compiles the translation catalogs"
    assert "find_spec('server.core.i18n')" in runs[0] and " else " in runs[0]


def test_dockerignore_keeps_local_state_out_but_not_the_package():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".oms", "test-artifacts"} <= patterns
    for needed in ("pyproject.toml", "README.md", "server", "web", "jobs", "migrations"):
        assert needed not in patterns and f"{needed}/" not in patterns, needed


# -- docker-compose.yml ---------------------------------------------------------------------------

def test_compose_has_the_services(compose):
    assert set(compose["services"]) >= {"postgres", "redis", *APP_SERVICES}
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize(("service", "argv"), [
    ("migrate", ["oms", "migrate"]),
    ("web", ["oms", "serve", "--host", "0.0.0.0"]),
    ("worker", ["oms", "worker"]),
])
def test_compose_app_commands_exist_in_the_cli(compose, service, argv):
    svc = compose["services"][service]
    command = svc["command"] if isinstance(svc["command"], list) else shlex.split(svc["command"])
    assert command == argv
    assert_oms_command(command)


def test_compose_app_services_share_one_image_and_the_production_environment(compose):
    images = {compose["services"][s]["image"] for s in APP_SERVICES}
    assert len(images) == 1, images
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["OMS_ENV"] == "production"
        assert env["OMS_DATABASE_URL"] == "postgresql://oms:oms@postgres:5432/oms"
        assert env["OMS_REDIS_URL"] == "redis://redis:6379/0"
        assert env["OMS_SECRET_KEY"].startswith("${OMS_SECRET_KEY:?"), "refuse to start without a secret"
        assert "OMS_PUBLIC_URL" in env
        assert set(env) <= settings_variables(), set(env) - settings_variables()


def test_compose_dependencies(compose):
    s = compose["services"]
    assert s["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert s["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert s[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    pg_check = " ".join(s["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg_check
    assert "pgdata" in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in s["postgres"]["volumes"])


def test_compose_web_publishes_8000_and_checks_readyz(compose):
    web = compose["services"]["web"]
    assert "8000:8000" in web["ports"]
    argv = web["healthcheck"]["test"]
    assert argv[0] == "CMD"
    code = python_c_code(argv[1:])
    compile(code, "<readyz check>", "exec")
    assert "/readyz" in code


def test_compose_worker_is_scalable(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["healthcheck"] == {"disable": True}     # the image's check is the web server's


def test_compose_redis_keeps_no_persistence(compose):
    command = compose["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"


# -- README ---------------------------------------------------------------------------------------

def test_readme_documents_every_setting_and_invents_none():
    readme = (ROOT / "README.md").read_text()
    known = settings_variables()
    test_only = set(re.findall(r'"(OMS_TEST_[A-Z0-9_]+)"', (ROOT / "tests" / "conftest.py").read_text()))
    mentioned = set(re.findall(r"\bOMS_[A-Z0-9_]*[A-Z0-9]\b", readme))
    assert sorted(known - mentioned) == [], "settings missing from the README's configuration table"
    assert sorted(mentioned - known - test_only) == [], "README mentions variables the code does not read"


def readme_oms_commands() -> list[list[str]]:
    """The `oms …` lines of the README's shell code blocks, as argv lists."""
    commands, language = [], None
    for raw in (ROOT / "README.md").read_text().splitlines():
        line = raw.strip()
        if line.startswith("```"):
            language = None if language is not None else (line[3:].strip() or "plain")
        elif language in ("bash", "sh", "console", "plain") and line.removeprefix("$ ").startswith("oms "):
            commands.append(shlex.split(line.removeprefix("$ ").split(" #")[0]))
    return commands


def test_readme_oms_commands_parse():
    """Every `oms …` example in the README's code blocks parses with the real CLI."""
    commands = [argv for argv in readme_oms_commands() if argv[1] != "channel"]
    assert {argv[1] for argv in commands} >= {"dev", "serve", "worker", "migrate", "services", "demo", "user",
                                               "apikey"}
    for argv in commands:
        assert_oms_command(argv)


def test_readme_channel_commands_parse():
    """`oms channel …` is defined in server/channels/cli.py (add_channel_commands)."""
    import argparse

    from server.channels.cli import add_channel_commands

    parser = argparse.ArgumentParser(prog="oms")
    add_channel_commands(parser.add_subparsers(dest="command", required=True),
                         ensure_services=list, run_db=list, print_json=print)
    commands = [argv for argv in readme_oms_commands() if argv[1] == "channel"]
    assert {argv[2] for argv in commands} == {"create", "list", "sync"}
    for argv in commands:
        assert callable(parser.parse_args(argv[1:]).fn), argv
