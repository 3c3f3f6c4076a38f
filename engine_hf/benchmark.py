"""Speed measured the way the field notes ask: same inputs, same threads, one process, medians of repeats."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, NamedTuple, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

T = TypeVar("T")


def hardware_description(device: str | torch.device | None = None) -> str:
    """The machine a result came from, as results JSON record it: cores, CPU model and the vector unit torch uses,
    and the GPU if one is used (by default: whenever there is one; with `device`, only if it is a CUDA device).

    Why the model: on two machines with the same core count, the same command gave teacher greedy 64 and 93 ms per
    sentence (the output layer's one-row product alone 1.4 against 4-6 ms), and training draws that differ in the
    third digit (float rounding differs between CPUs), so a number is only comparable with another from the same CPU.
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    if not torch.cuda.is_available():
        gpu = "no GPU"
    elif device is None or torch.device(device).type == "cuda":
        gpu = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        gpu = f"GPU {torch.cuda.get_device_name()} not used"
    return f"{os.cpu_count()} CPU cores ({cpu}, {torch.backends.cpu.get_cpu_capability()}), {gpu}"


class TimedSystem(NamedTuple):
    """A system a speed table times: a model, the keyword arguments of its `generate()`, and the context it runs in
    (a swapped output layer, say), entered around each of its own timed runs only."""

    model: PreTrainedModel
    generate_kwargs: dict[str, Any]
    context: Callable[[], AbstractContextManager[Any]] = nullcontext


def interleaved_order(names: list[str], repeat: int) -> list[str]:
    """The order of the systems in one repeat: rotated by one place a repeat, so each takes every position, and
    reversed every other repeat, so each follows more than one other system (what the one before leaves in the
    caches is not always the same)."""
    shift = repeat % len(names)
    order = names[shift:] + names[:shift]
    return order[::-1] if repeat % 2 else order


def wall_seconds(run: Callable[[], T]) -> tuple[float, T]:
    """Wall time of one call of `run`, and what it returned. On a GPU the queue is drained before the clock starts
    (work queued earlier is not this call's) and before it stops (the time is the kernels', not their launches')."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def timed_generate(system: TimedSystem, batches: list[BatchEncoding]) -> tuple[float, list[torch.Tensor]]:
    """Wall time of one system's `generate()` over all `batches` inside its context (entered before the clock
    starts), and its outputs."""
    with system.context():
        return wall_seconds(lambda: [system.model.generate(**batch, **system.generate_kwargs) for batch in batches])


@torch.no_grad()
def side_by_side_latency(
    systems: Mapping[str, TimedSystem],
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    batch_size: int,
    repeats: int = 3,
    baseline: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Time every system on the same `sources` in batches of `batch_size`, interleaved: each repeat runs every
    system once (`interleaved_order`).

    Why interleaved: timed one system after another, a machine that speeds up or slows down during the run (another
    tenant, the clock) moves into the ratios, and a median over a few repeats cannot show it (two runs of the same
    command on the same student gave 4.20x and 4.47x). Interleaved, drift slower than one repeat reaches every system
    alike, and the ratio to `baseline` is taken within each repeat: its median and its value in each repeat (the
    spread) are returned as `speedup_vs_<baseline>` and `speedup_vs_<baseline>_per_repeat`. The median of the
    ratios is not the ratio of the median times, which each row gives too.

    Sources are batched in order of length, as `engine_hf.translate` batches them: in input order a batch's
    padding (and, for the parallel decoder, every row's output length) follows its longest sentence, which
    charges both models for padding no user of `translate` pays. Tokenisation and the move to the model's device
    are done outside the timer; one untimed warm-up batch per system runs first. Each row has the median seconds per
    sentence (and each repeat's), sentences per second and the mean output length in tokens (specials excluded): a
    parallel decoder that emitted shorter outputs would look faster for it.
    """
    if baseline is not None and baseline not in systems:
        raise ValueError(f"baseline {baseline!r} is not one of the systems timed: {list(systems)}")
    ordered = sorted(sources, key=len)
    encoded = [tokenizer(ordered[i : i + batch_size], return_tensors="pt", padding=True)
               for i in range(0, len(ordered), batch_size)]
    on_device = {name: [batch.to(system.model.device) for batch in encoded] for name, system in systems.items()}
    for name, system in systems.items():  # warm-up: the first call pays one-off costs
        timed_generate(system, on_device[name][:1])
    times: dict[str, list[float]] = {name: [] for name in systems}
    outputs: dict[str, list[torch.Tensor]] = {}
    for repeat in range(repeats):
        for name in interleaved_order(list(systems), repeat):
            seconds, outputs[name] = timed_generate(systems[name], on_device[name])
            times[name].append(seconds)
    specials = torch.tensor(tokenizer.all_special_ids)
    rows: dict[str, dict[str, Any]] = {}
    for name in systems:
        total = statistics.median(times[name])
        output_tokens = sum(int((~torch.isin(out.cpu(), specials)).sum()) for out in outputs[name])
        rows[name] = {"seconds_per_sentence": total / len(sources), "sentences_per_second": len(sources) / total,
                      "mean_output_tokens": output_tokens / len(sources), "repeats": repeats,
                      "batch_size": batch_size, "sentences": len(sources),
                      "seconds_per_sentence_per_repeat": [seconds / len(sources) for seconds in times[name]]}
        if baseline is not None:
            ratios = [base / own for base, own in zip(times[baseline], times[name], strict=True)]
            key = "speedup_vs_" + baseline.replace(" ", "_")
            rows[name][key] = statistics.median(ratios)
            rows[name][f"{key}_per_repeat"] = ratios
    return rows


def decoding_latency(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    batch_size: int,
    repeats: int = 3,
    **generate_kwargs: Any,
) -> dict[str, Any]:
    """One system's row of `side_by_side_latency`: the median over `repeats` of its time on `sources`."""
    system = TimedSystem(model, generate_kwargs)
    return side_by_side_latency({"system": system}, tokenizer, sources, batch_size, repeats)["system"]


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Median `wall_seconds` of `repeats` calls of `run` (warm it up first: the first call pays one-off costs)."""
    return statistics.median(wall_seconds(run)[0] for _ in range(repeats))


@torch.no_grad()
def batch1_components(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    student_output_tokens: float,
    repeats: int = 5,
) -> dict[str, float]:
    """Milliseconds of the parts that bound the batch-1 speed ratio: the two encoders (per sentence), and the
    output layer (d_model x vocabulary) applied to 1 position, as each teacher *step* does (a sentence pays it once
    per output token, plus one), and to all the positions of a parallel pass at once (the student's mean output
    length), as the student does once per sentence. The student's output layer stands in for the teacher's (same
    d_model and vocabulary in this project's pairs).

    Why: both models share the encoder's cost, so the ratio can only come from the decoders; with a large
    vocabulary and a cheap autoregressive decoder, the output layer is most of each side's decoder cost.
    """
    encoded = [tokenizer([source], return_tensors="pt") for source in sources]
    to_student = [batch.to(student.device) for batch in encoded]
    to_teacher = [batch.to(teacher.device) for batch in encoded]
    hidden = torch.randn(max(1, round(student_output_tokens)), student.config.d_model, device=student.device,
                         dtype=student.dtype)
    parts = {"student encoder": lambda: [student.get_encoder()(b["input_ids"], b["attention_mask"]) for b in to_student],
             "teacher encoder": lambda: [teacher.get_encoder()(input_ids=b["input_ids"],
                                                                attention_mask=b["attention_mask"]) for b in to_teacher],
             "output layer, 1 position (one teacher step)": lambda: [student.output_logits(hidden[:1]) for _ in encoded],
             f"output layer, {len(hidden)} positions (one parallel pass)":
                 lambda: [student.output_logits(hidden) for _ in encoded]}
    result = {}
    for name, run in parts.items():
        run()
        result[name] = 1000 * median_seconds(run, repeats) / len(encoded)
    return result


class ShortlistOutputLayer(nn.Module):
    """An output layer that computes the logits of a shortlist of ids only; every other id gets `-inf`.

    What a lexical shortlist (Marian's `lex.s2t`, shipped with the Firefox models) does to decoding cost: the
    d_model x vocabulary product shrinks to d_model x shortlist. Ids keep their meaning (the full-width logits are
    filled in), so generation, its logits processors and the tokenizer work unchanged; whenever the full layer's
    best id is in the shortlist the greedy choice is the same.
    """

    def __init__(self, layer: nn.Linear, keep_ids: torch.LongTensor) -> None:
        super().__init__()
        self.out_features = layer.out_features
        self.register_buffer("keep_ids", keep_ids.to(layer.weight.device))
        self.register_buffer("weight", layer.weight.detach()[self.keep_ids].clone())
        self.register_buffer("bias", None if layer.bias is None else layer.bias.detach()[self.keep_ids].clone())

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        kept = F.linear(hidden_states, self.weight, self.bias)
        logits = kept.new_full((*hidden_states.shape[:-1], self.out_features), float("-inf"))
        return logits.index_copy_(-1, self.keep_ids, kept)


@contextmanager
def shortlisted(model: PreTrainedModel, keep_ids: torch.LongTensor) -> Iterator[PreTrainedModel]:
    """Run `model` with its `lm_head` restricted to `keep_ids` (a `ShortlistOutputLayer`); restored on exit."""
    full = model.lm_head
    model.lm_head = ShortlistOutputLayer(full, keep_ids)
    try:
        yield model
    finally:
        model.lm_head = full


@contextmanager
def linear_output_layer() -> Iterator[None]:
    """Decode with `nn.Linear`'s h W^T at every chunk size: no vocabulary-major projection (`_best_tokens`).

    Why: the speed tables time this beside the default, in the same run, so that what the
    vocabulary-major product buys is measured where it is used and not inferred from two runs' drifting times."""
    from . import modeling_cmlm

    saved = modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS
    modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS = 0
    try:
        yield
    finally:
        modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS = saved


__all__ = ["ShortlistOutputLayer", "TimedSystem", "batch1_components", "decoding_latency", "hardware_description",
           "interleaved_order", "linear_output_layer", "median_seconds", "shortlisted", "side_by_side_latency",
           "timed_generate", "wall_seconds"]
