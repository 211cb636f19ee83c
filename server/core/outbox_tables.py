from piccolo.columns import JSONB, BigInt, BigSerial, Integer, Text, Timestamptz
from piccolo.table import Table


class Outbox(Table, tablename="outbox"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt(null=True, default=None)
    job_name = Text()
    job_id = Text()
    payload = JSONB(default="{}")
    created_at = Timestamptz()
    available_at = Timestamptz()
    enqueued_at = Timestamptz(null=True, default=None)
    done_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Text(default="")
