"""Money in the partner schema: `Money { amount currency minorUnits }`.

The database keeps integer minor units plus an ISO-4217 code (DESIGN §4.8). `amount` is the same value
as a decimal string with exactly the currency's number of decimals ("168.00" CNY, "1680" JPY,
"1.250" KWD) so no client ever parses money through a float; `minorUnits` is the integer as stored
(a `BigInt`, see server/graphql/scalars.py). Inputs take amounts as decimal strings ("12.50"); the
services parse them with the currency's precision.
"""
from __future__ import annotations

import strawberry

from server.core.money import from_minor
from server.graphql.scalars import BigInt


@strawberry.type(description="An amount of money: `amount` is a decimal string with the currency's "
                             "decimals (\"168.00\" CNY, \"1680\" JPY), `minorUnits` the same value as a "
                             "whole number of the currency's minor unit (16800 fen), `currency` the "
                             "ISO-4217 code.")
class Money:
    amount: str
    currency: str
    minor_units: BigInt

    @classmethod
    def of(cls, minor: int | None, currency: str) -> Money:
        code = (currency or "").strip().upper()
        value = int(minor or 0)
        return cls(amount=format(from_minor(value, code), "f"), currency=code, minor_units=BigInt(value))
