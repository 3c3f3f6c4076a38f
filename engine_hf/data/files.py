"""Parallel data from local files (JSONL, TSV, aligned text files, a saved `DatasetDict`), and the one way any
loaded `DatasetDict` is brought to this package's format (also used for Hub datasets)."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
from datasets import DatasetDict

from .common import SPLITS, Pair, _build_dict, _check_langs, _normalize_text, finalize_splits

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


def _normalize_dataset_dict(
    dd: DatasetDict, name: str, src_lang: str, tgt_lang: str, **kwargs: Any
) -> DatasetDict:
    """Bring a loaded DatasetDict (saved to disk or from the Hub) to this package's format: train/validation/test, translation + document."""
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


_SPLIT_FILE_NAMES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev"),
    "test": ("test",),
}


def _load_local(path: Path, src_lang: str, tgt_lang: str, **kwargs: Any) -> DatasetDict:
    if path.is_file():
        return load_parallel_files(src_lang, tgt_lang, train=path, **kwargs)
    if (path / "dataset_dict.json").is_file():
        return _normalize_dataset_dict(
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
