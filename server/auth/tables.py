from piccolo.columns import BigInt, BigSerial, Boolean, Text, Timestamptz, Varchar
from piccolo.table import Table


class Merchant(Table, tablename="merchant"):
    id = BigSerial(primary_key=True)
    slug = Text()
    name = Text()
    timezone = Text(default="Asia/Shanghai")
    currency = Varchar(length=3, default="CNY")
    created_at = Timestamptz()


class User(Table, tablename="app_user"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    email = Text()
    name = Text(default="")
    password_hash = Text()
    role = Text()
    language = Text(default="en")
    timezone = Text(default="Asia/Shanghai")
    is_active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    password_changed_at = Timestamptz()


class UserSession(Table, tablename="user_session"):
    id = BigSerial(primary_key=True)
    token_hash = Text()
    user_id = BigInt()
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_seen_at = Timestamptz()
    ip = Text(default="")
    user_agent = Text(default="")


class ApiKey(Table, tablename="api_key"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    name = Text()
    prefix = Text()
    key_hash = Text()
    role = Text()
    created_by_id = BigInt(null=True, default=None)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class LoginAttempt(Table, tablename="login_attempt"):
    id = BigSerial(primary_key=True)
    email = Text()
    ip = Text(default="")
    success = Boolean()
    at = Timestamptz()
