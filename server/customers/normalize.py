"""Clean buyer data at the ingest boundary: phones to E.164, regions to codes and coordinates.

China: `cpca` knows every province/city/district with its adcode and coordinates; parsing is cached
per (province, city, district) because real order streams repeat a few thousand districts.
Elsewhere: `pycountry` for the country and ISO-3166-2 subdivision. Masked values (Taobao OAID,
PDD/Douyin/JD masking) are kept exactly as given.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import pycountry

log = logging.getLogger("oms.normalize")

MASK_CHARS = ("*", "＊", "#")


def is_masked(value: str) -> bool:
    return any(c in value for c in MASK_CHARS)


@lru_cache(maxsize=100_000)
def normalize_phone(raw: str, country_code: str = "CN") -> str:
    """'138 1234 5678' -> '+8613812345678'; masked or unparsable values are returned trimmed."""
    value = (raw or "").strip()
    if not value or is_masked(value):
        return value
    try:
        parsed = phonenumbers.parse(value, (country_code or "CN").upper())
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_tail(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def country_code(value: str) -> str:
    """'China', 'CN', 'CHN', '中国' -> 'CN'; unknown values -> '' (kept in the raw payload)."""
    v = (value or "").strip()
    if not v:
        return ""
    if v in ("中国", "中国大陆", "中华人民共和国"):
        return "CN"
    try:
        return pycountry.countries.lookup(v).alpha_2
    except LookupError:
        return ""


@dataclass(frozen=True, slots=True)
class Region:
    province: str
    city: str
    district: str
    code: str              # CN adcode, or ISO-3166-2 subdivision elsewhere
    latitude: float | None
    longitude: float | None


_DIRECT = {"省直辖县级行政区划", "自治区直辖县级行政区划", "市辖区", "县"}


@lru_cache(maxsize=50_000)
def china_region(province: str, city: str, district: str) -> Region:
    """Resolve a Chinese (province, city, district); a province-level county (济源, 仙桃…) that a
    platform put in `district` with an empty city keeps an empty city."""
    text = f"{province}{city}{district}"
    if not text.strip() or is_masked(text):
        return Region(province, city, district, "", None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cpca  # noqa: PLC0415 - loads its tables on first use

        row = cpca.transform([text]).iloc[0]
    adcode = str(row.get("adcode") or "")
    info = cpca.ad_2_addr_dict.get(adcode.ljust(12, "0")) if adcode else None
    p = row.get("省") or province
    c = row.get("市") or city
    d = row.get("区") or district
    if c in _DIRECT:
        c = "" if p not in ("北京市", "上海市", "天津市", "重庆市") else p
    lat = float(info.latitude) if info is not None and info.latitude else None
    lng = float(info.longitude) if info is not None and info.longitude else None
    return Region(p or "", c or "", d or "", adcode, lat, lng)


@lru_cache(maxsize=10_000)
def subdivision(country: str, province: str) -> str:
    """ISO-3166-2 code for a state/province given as a code or a name ('CA' / 'California')."""
    if not country or not province:
        return ""
    candidates = pycountry.subdivisions.get(country_code=country) or []
    p = province.strip().lower()
    for sub in candidates:
        if sub.code.lower() == f"{country.lower()}-{p}" or sub.name.lower() == p:
            return sub.code
    return ""


def region(country: str, province: str, city: str, district: str) -> Region:
    if country == "CN":
        try:
            return china_region(province, city, district)
        except Exception:  # a region the tables do not know: keep what the platform said
            log.warning("region lookup failed", extra={"province": province})
            return Region(province, city, district, "", None, None)
    return Region(province, city, district, subdivision(country, province), None, None)
