"""Outbox job names -> handlers. Area modules register thin handlers that call a service."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Callable[[dict], Awaitable[Any]]
    transactional: bool = True      # lock the outbox row and commit the job's writes with "done"


JOBS: dict[str, JobSpec] = {}


def outbox_job(name: str, *, transactional: bool = True):
    def register(fn: Callable[[dict], Awaitable[Any]]) -> Callable[[dict], Awaitable[Any]]:
        JOBS[name] = JobSpec(name, fn, transactional)
        return fn

    return register
