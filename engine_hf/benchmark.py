"""Speed measured the way the field notes ask: same inputs, same threads, one process, medians of repeats."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@torch.no_grad()
def decoding_latency(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    batch_size: int,
    repeats: int = 3,
    **generate_kwargs: Any,
) -> dict[str, float]:
    """Median over `repeats` of the wall time to translate all `sources` in batches of `batch_size`.

    Tokenisation is done once, outside the timer; one untimed warm-up batch runs first. Returns seconds per
    sentence and sentences per second.
    """
    batches = [
        tokenizer(sources[i : i + batch_size], return_tensors="pt", padding=True).to(model.device)
        for i in range(0, len(sources), batch_size)
    ]
    model.generate(**batches[0], **generate_kwargs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            model.generate(**batch, **generate_kwargs)
        times.append(time.perf_counter() - start)
    total = statistics.median(times)
    return {"seconds_per_sentence": total / len(sources), "sentences_per_second": len(sources) / total,
            "repeats": repeats, "batch_size": batch_size, "sentences": len(sources)}


__all__ = ["decoding_latency"]
