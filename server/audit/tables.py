from piccolo.columns import JSONB, BigInt, BigSerial, Text, Timestamptz
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_entry"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt(null=True, default=None)
    actor_type = Text()
    actor_id = BigInt(null=True, default=None)
    actor_label = Text(default="")
    action = Text()
    object_type = Text()
    object_id = Text(default="")
    before = JSONB(null=True, default=None)
    after = JSONB(null=True, default=None)
    request_id = Text(default="")
    job_id = Text(default="")
    ip = Text(default="")
    at = Timestamptz()
