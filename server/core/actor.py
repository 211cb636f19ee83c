"""Who is acting: a staff user, a partner's API key, or a system job. Every service call takes one."""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Actor:
    kind: str                           # "user" | "api_key" | "system"
    merchant_id: int | None             # the tenant; None only for a platform-wide system actor
    role: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    api_key_id: int | None = None
    label: str = ""                     # email, key name, or job name — for the audit trail
    language: str = "en"
    timezone: str = "Asia/Shanghai"
    request_id: str = ""
    job_id: str = ""
    ip: str = ""

    @property
    def id(self) -> int | None:
        return self.user_id if self.kind == "user" else self.api_key_id

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def with_request(self, request_id: str, ip: str = "") -> Actor:
        return replace(self, request_id=request_id, ip=ip)


def system(merchant_id: int | None, job: str, job_id: str = "") -> Actor:
    """A background job acting for one merchant with every permission."""
    from server.auth.roles import ALL_PERMISSIONS  # noqa: PLC0415 - auth depends on core, not back

    return Actor(kind="system", merchant_id=merchant_id, role="system", permissions=ALL_PERMISSIONS,
                 label=f"system:{job}", job_id=job_id)
