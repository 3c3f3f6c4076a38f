"""Datasets from the Hugging Face Hub (``datasets.load_dataset``), failing fast and clearly when it is
unreachable."""

from __future__ import annotations

import os
import re
import socket
import urllib.parse
from typing import Any

import datasets
from datasets import DatasetDict

from .files import _normalize_dataset_dict


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
    return _normalize_dataset_dict(dd, name, src_lang, tgt_lang, **kwargs)
