"""The LibreOffice offline help as a parallel corpus: every help page exists in every language with the
same paragraph ids, so joining on (help file, paragraph id) gives software-documentation sentence pairs. MPL-2.0."""

from __future__ import annotations

import html
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from .common import (
    SPLITS,
    Pair,
    _build_dict,
    _cached_build,
    _check_langs,
    _choose_heldout_documents,
    _has_letter,
    _normalize_text,
    _resolve_cache_dir,
    _split_of,
    finalize_splits,
)

logger = logging.getLogger(__name__)

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
