"""What every corpus shares: the `Pair`, text normalisation, splitting by document, leakage removal between
splits, and the on-disk cache of built corpora (see the package docstring for the rules)."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import datasets
from datasets import Dataset, DatasetDict, Features, Translation, Value

logger = logging.getLogger(__name__)

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
