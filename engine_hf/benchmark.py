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

    Sources are batched in order of length, as `engine_hf.translate` batches them: in input order a batch's
    padding (and, for the parallel decoder, every row's output length) follows its longest sentence, which
    charges both models for padding no user of `translate` pays. Tokenisation is done once, outside the timer;
    one untimed warm-up batch runs first. Returns seconds per sentence, sentences per second and the mean output
    length in tokens (specials excluded): a parallel decoder that emitted shorter outputs would look faster for it.
    """
    ordered = sorted(sources, key=len)
    batches = [
        tokenizer(ordered[i : i + batch_size], return_tensors="pt", padding=True).to(model.device)
        for i in range(0, len(ordered), batch_size)
    ]
    model.generate(**batches[0], **generate_kwargs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = [model.generate(**batch, **generate_kwargs) for batch in batches]
        times.append(time.perf_counter() - start)
    total = statistics.median(times)
    specials = torch.tensor(tokenizer.all_special_ids)
    output_tokens = sum(int((~torch.isin(out.cpu(), specials)).sum()) for out in outputs)
    return {"seconds_per_sentence": total / len(sources), "sentences_per_second": len(sources) / total,
            "mean_output_tokens": output_tokens / len(sources), "repeats": repeats, "batch_size": batch_size,
            "sentences": len(sources)}


__all__ = ["decoding_latency"]
