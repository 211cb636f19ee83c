"""Translations: compile the gettext catalogs when needed, look them up per language, negotiate.

The .po files are the source of truth (committed); the .mo files are build output (ignored by git)
and are compiled here, with Babel's own reader/writer, whenever one is missing or older than its
.po — so a fresh checkout, a container or a test run works without the `pybabel` command.
"""
from __future__ import annotations

import contextlib
import gettext as _gettext
import io
import logging
import os
import sys
import tempfile
from functools import cache
from pathlib import Path

from babel.messages import mofile, pofile
from babel.support import NullTranslations, Translations

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATIONS_DIR = ROOT / "web" / "translations"
DOMAIN = "messages"
LANGUAGES: tuple[str, ...] = ("en", "zh")   # en is the source language: no catalog needed
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}

log = logging.getLogger("oms.i18n")


def _stale(po_path: Path, mo_path: Path) -> bool:
    return not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime


def _read_po(po_path: Path):
    with po_path.open("rb") as f:
        return pofile.read_po(f, locale=po_path.parent.parent.name, domain=DOMAIN)


def compile_catalogs(directory: Path = TRANSLATIONS_DIR, *, force: bool = False) -> list[Path]:
    """Write `<lang>/LC_MESSAGES/messages.mo` for every .po that is newer than its .mo (or has none).

    Returns the .mo files written. The write goes to a temporary file that is renamed into place,
    so concurrent processes (test workers, server + worker) never read a half-written catalog.
    """
    written = []
    for po_path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and not _stale(po_path, mo_path):
            continue
        catalog = _read_po(po_path)
        try:
            fd, tmp = tempfile.mkstemp(dir=po_path.parent, prefix=".messages-", suffix=".mo")
        except OSError as exc:  # a read-only install: gettext_for() compiles in memory instead
            log.warning("cannot write %s (%s); translations are compiled in memory", mo_path, exc)
            continue
        try:
            with os.fdopen(fd, "wb") as out:
                mofile.write_mo(out, catalog, use_fuzzy=False)
            os.replace(tmp, mo_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        written.append(mo_path)
    if written:
        gettext_for.cache_clear()
    return written


@cache
def gettext_for(lang: str) -> _gettext.NullTranslations:
    """The translations of one language (cached). Unknown languages and English get the identity."""
    lang = normalize(lang)
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    po_path = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo_path = po_path.with_suffix(".mo")
    if po_path.exists() and _stale(po_path, mo_path):  # not compiled (read-only install): in memory
        buffer = io.BytesIO()
        mofile.write_mo(buffer, _read_po(po_path), use_fuzzy=False)
        buffer.seek(0)
        return Translations(buffer, DOMAIN)
    return Translations.load(str(TRANSLATIONS_DIR), [lang], DOMAIN)


def normalize(lang: str | None) -> str:
    """'zh-CN', 'zh_Hans', 'ZH' -> 'zh'; anything unsupported -> the default language."""
    base = (lang or "").strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(accept_language: str | None, cookie: str | None = None) -> str:
    """The language for an anonymous visitor: an explicit `lang` cookie wins, then Accept-Language
    (highest q first, order breaking ties), then the default."""
    if cookie and normalize(cookie) == cookie.strip().lower():
        return normalize(cookie)
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((-q, position, tag))
    for neg_q, _pos, tag in sorted(ranked):
        base = tag.replace("_", "-").split("-")[0].lower()
        if neg_q < 0 and base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


if __name__ == "__main__":  # `python -m server.core.i18n [--force]`: compile the catalogs now (image builds)
    for path in compile_catalogs(force="--force" in sys.argv[1:]):
        print(f"compiled {path}")
