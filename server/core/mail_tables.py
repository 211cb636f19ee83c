from piccolo.columns import BigInt, BigSerial, Integer, Text, Timestamptz
from piccolo.table import Table


class MailMessage(Table, tablename="mail_message"):
    """Every mail sent over SMTP or captured in dev (server.core.mail is the only writer)."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt(null=True, default=None)
    key = Text()                                         # idempotency: one mail per key, ever
    to_address = Text()
    from_address = Text()
    subject = Text()
    body_text = Text()
    body_html = Text(default="")
    language = Text(default="en")
    transport = Text()                                   # capture | smtp | none
    status = Text(default="pending")                     # pending | sending | sent | captured | failed
    error = Text(default="")
    attempts = Integer(default=0)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
