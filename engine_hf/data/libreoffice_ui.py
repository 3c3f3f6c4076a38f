"""LibreOffice's user-interface strings as extra sources: menu, dialog and button names with their translations.

The UI of LibreOffice is translated with gettext; Debian ships each language's catalogs (``*.mo``) in
``libreoffice-l10n-XX``. A catalog maps an English message id to its translation, so the catalogs are short
EN<->XX pairs in the help's own domain (the help's headings name the same menus and dialogs). They are
auxiliary data (FIELD-NOTES section 2): short, with mnemonics and placeholders, no documents to split by. The
benchmark uses their English side as extra *sources* for sequence-level distillation, so it never trains on
these translations, and it removes every string that is a source of its held-out splits.
"""

from __future__ import annotations

import gettext
import logging
import os
import re
from pathlib import Path

from .common import Pair, _has_letter, _normalize_text, _resolve_cache_dir
from .libreoffice import _download_deb, _extract_deb, _libreoffice_dir

logger = logging.getLogger(__name__)

_CATALOG_SUBDIR = Path("usr/lib/libreoffice/program/resource")
# Placeholders ($(ARG1), %1, %s, {0}), markup and line breaks: strings that are templates, not text.
_TEMPLATE_RE = re.compile(r"\$\(|%\w|\{\w*\}|<[^>]+>|[\n\t]")


def _drop_mnemonic(text: str) -> str:
    """Remove the one keyboard-mnemonic marker of a UI string ("~Include", "_Quality:", "Re_name").

    Only a lone marker before a letter or digit is removed, so identifiers such as ``ROUND_UP`` (or strings
    with several underscores) keep theirs.
    """
    for marker in "~_":
        if text.count(marker) == 1 and re.search(re.escape(marker) + r"\w", text):
            text = text.replace(marker, "")
    return text


def libreoffice_ui_pairs(src_lang: str, tgt_lang: str, *, cache_dir: str | os.PathLike[str] | None = None) -> list[Pair]:
    """Every (English, translation) pair in the UI catalogs of one language, in the asked direction.

    One side must be English (the catalogs' message ids). Package ``libreoffice-l10n-<lang>`` is fetched with
    ``apt-get download`` into ``cache_dir/downloads`` (as for the help). Mnemonics are removed, templates and
    untranslated strings dropped, duplicates kept once (first catalog wins); ``document`` is the catalog name.
    """
    if "en" not in (src_lang, tgt_lang):
        raise ValueError(f"the UI catalogs pair English with one language; got {src_lang}-{tgt_lang}: "
                         "make one side 'en'")
    lang = tgt_lang if src_lang == "en" else src_lang
    package = "libreoffice-l10n-" + _libreoffice_dir(lang).lower()
    root = _resolve_cache_dir(cache_dir)
    unpack_dir = root / "libreoffice-ui" / package
    if not (unpack_dir / ".complete").is_file():
        unpack_dir.mkdir(parents=True, exist_ok=True)
        _extract_deb(_download_deb(package, root / "downloads"), unpack_dir)
        (unpack_dir / ".complete").write_text(package + "\n", encoding="utf-8")
    catalogs = sorted((unpack_dir / _CATALOG_SUBDIR).glob("*/LC_MESSAGES/*.mo"))
    if not catalogs:
        raise RuntimeError(f"{package} has no UI catalogs under {_CATALOG_SUBDIR}; is it a LibreOffice l10n package?")
    pairs, seen = [], set()
    for path in catalogs:
        with path.open("rb") as handle:
            messages = gettext.GNUTranslations(handle)._catalog  # the parsed .mo: {msgid or (msgid, n): str}
        for key, translated in messages.items():
            if not isinstance(key, str) or not key or not translated:
                continue  # plural forms and the catalog header
            english = _normalize_text(_drop_mnemonic(key.split("\x04")[-1]))  # drop the msgctxt prefix
            other = _normalize_text(_drop_mnemonic(translated))
            if (english == other or english in seen or not _has_letter(english)
                    or _TEMPLATE_RE.search(key) or _TEMPLATE_RE.search(translated)):
                continue
            seen.add(english)
            pairs.append(Pair(english, other, path.stem) if src_lang == "en" else Pair(other, english, path.stem))
    logger.info("%s: %d UI pairs from %d catalogs", package, len(pairs), len(catalogs))
    return pairs
