"""Catalogs: the template matches the sources, Chinese is complete, .mo files compile on demand."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from server.auth.roles import PERMISSIONS, ROLE_LABELS
from server.core import i18n
from web import nav
from web.app import area_modules
from web.messages import AUDIT_ACTIONS, ERROR_MESSAGES, FIELD_LABELS, PERMISSION_GROUPS

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
POT = WEB / "translations" / "messages.pot"
ZH_PO = WEB / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def source_msgids() -> set:
    """What `pybabel extract -F web/babel.cfg -k N_` finds now (run over web/ only)."""
    with (WEB / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    method_map = [(pattern.removeprefix("web/"), method) for pattern, method in method_map]
    options_map = {pattern.removeprefix("web/"): opts for pattern, opts in options_map.items()}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(str(WEB), method_map, options_map, keywords=keywords,
                             directory_filter=lambda d: not os.path.basename(d).startswith((".", "__")))
    return {message for _file, _line, message, _comments, _context in found}


def catalog_msgids(path: Path) -> set:
    with path.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_template_is_up_to_date_with_the_sources():
    in_sources, in_pot = source_msgids(), catalog_msgids(POT)
    assert not in_sources - in_pot, "run the extract command in web/translations/README.md"
    assert not in_pot - in_sources, "the template has msgids no source uses any more"


def test_chinese_catalog_is_complete_and_valid():
    with ZH_PO.open("rb") as f:
        catalog = read_po(f, locale="zh")
    ids = {m.id for m in catalog if m.id}
    assert ids == catalog_msgids(POT), "run pybabel update (see web/translations/README.md)"
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"untranslated: {message.id!r}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems  # %(name)s-style variables kept, plural forms right


def test_texts_shown_from_other_modules_have_chinese():
    zh = i18n.gettext_for("zh")
    area_modules()  # every area registers its nav entry
    texts = [*ROLE_LABELS.values(), *PERMISSIONS.values(), *PERMISSION_GROUPS.values(), *AUDIT_ACTIONS.values(),
             *FIELD_LABELS.values(), *ERROR_MESSAGES.values(), *nav.SECTIONS.values()]
    texts += [item.label for item in nav.items()] + [item.description for item in nav.items() if item.description]
    untranslated = [t for t in texts if zh.gettext(t) == t and t not in ("ID", "OMS")]
    assert not untranslated


def test_compiles_missing_or_stale_catalogs(tmp_path):
    target = tmp_path / "zh" / "LC_MESSAGES"
    target.mkdir(parents=True)
    po = target / "messages.po"
    shutil.copy(ZH_PO, po)
    mo = target / "messages.mo"

    assert i18n.compile_catalogs(tmp_path) == [mo]
    with mo.open("rb") as f:
        compiled = read_mo(f)
    assert compiled.get("Sign in").string == "登录"
    assert i18n.compile_catalogs(tmp_path) == []  # up to date: untouched
    stat = mo.stat()
    os.utime(po, (stat.st_atime, stat.st_mtime + 10))  # the .po changed after the .mo
    assert i18n.compile_catalogs(tmp_path) == [mo]
    assert i18n.compile_catalogs(tmp_path, force=True) == [mo]
    assert not list(target.glob(".messages-*"))  # no temporary files left behind


def test_uncompiled_catalog_is_compiled_in_memory(tmp_path, monkeypatch):
    """A read-only install without .mo files still shows Chinese."""
    target = tmp_path / "zh" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(ZH_PO, target / "messages.po")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    i18n.gettext_for.cache_clear()
    try:
        assert i18n.gettext_for("zh").gettext("Sign in") == "登录"
        assert not (target / "messages.mo").exists()
    finally:
        monkeypatch.undo()
        i18n.gettext_for.cache_clear()
    assert i18n.gettext_for("zh").gettext("Sign in") == "登录"


def test_the_app_compiles_its_catalogs():
    from web.templating import environment

    environment()
    mo = ZH_PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= ZH_PO.stat().st_mtime
    assert i18n.gettext_for("zh").gettext("Users & roles") == "用户与角色"
    assert i18n.gettext_for("en").gettext("Users & roles") == "Users & roles"
    assert i18n.gettext_for("zh").ngettext("%(num)d permission", "%(num)d permissions", 3) == "%(num)d 项权限"


@pytest.mark.parametrize(("accept", "cookie", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
    ("en-US,en;q=0.9,zh;q=0.8", None, "en"),
    ("fr-FR,fr;q=0.9,zh-TW;q=0.5", None, "zh"),
    ("de;q=0.5,en;q=0.4,zh;q=0.9", None, "zh"),
    ("ja", None, "en"),
    ("", None, "en"),
    (None, None, "en"),
    ("zh-CN", "en", "en"),
    ("en", "zh", "zh"),
    ("en", "klingon", "en"),
    ("zh;q=abc, en", None, "en"),
])
def test_language_negotiation(accept, cookie, expected):
    assert i18n.negotiate(accept, cookie) == expected


def test_normalize():
    assert [i18n.normalize(x) for x in ("zh-CN", "zh_Hans", "ZH", "en-GB", "", None, "fr")] == \
        ["zh", "zh", "zh", "en", "en", "en", "en"]
