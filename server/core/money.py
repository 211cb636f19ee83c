"""Money as integer minor units plus an ISO-4217 currency. Never float arithmetic."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from server.core.errors import ValidationError

# ISO-4217 exponents that differ from 2. Everything else uses 2 decimal places.
_EXPONENTS = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0, "PYG": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal(value: object) -> Decimal:
    """Parse a platform amount (string, int or JSON double) exactly: Decimal(str(x))."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(f"not a number: {value!r}", code="invalid_amount") from exc


def to_minor(value: object, currency: str) -> int:
    """'12.34' CNY -> 1234. Rounds half-up at the currency's precision."""
    d = to_decimal(value)
    q = Decimal(1).scaleb(-exponent(currency))
    return int((d.quantize(q, rounding=ROUND_HALF_UP) * (10 ** exponent(currency))).to_integral_value())


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def parse(cls, value: object, currency: str) -> Money:
        return cls(to_minor(value, currency), currency.upper())

    @property
    def amount(self) -> Decimal:
        return from_minor(self.minor, self.currency)

    def __str__(self) -> str:  # "12.34 CNY"
        return f"{self.amount} {self.currency}"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValidationError(f"cannot add {other.currency} to {self.currency}", code="currency_mismatch")
        return Money(self.minor + other.minor, self.currency)
