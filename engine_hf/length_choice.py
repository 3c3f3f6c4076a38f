"""The teacher's choice of length, learnt by the length head: rescoring at training time instead of at inference.

Why: a CMLM's one-pass output is decided first by its length. On the labels benchmark the strongest students lose
6 BLEU to their own choice among length candidates, and the teacher, scoring the student's outputs at its top-k
lengths (`generate(rescoring_model=teacher)`), picks far better; but that costs a teacher pass per sentence at
inference. Here the teacher's pick is computed once over the training sources (`teacher_chosen_lengths`) and the
length head, one linear layer over the encoder's length summary, is fitted to it with the encoder frozen
(`fit_length_head`). Like ENGINE, it trains a part of the student to do what the teacher's energy prefers, so that
inference needs no teacher; unlike ENGINE, the target is one discrete choice per sentence, not a relaxed output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .inference import generate_ids, source_limit, tokenize_sources


@torch.no_grad()
def teacher_chosen_lengths(
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    length_beam: int = 5,
    num_iterations: int = 1,
    batch_size: int = 64,
) -> torch.LongTensor:
    """For each source, the length (among the student's `length_beam` most likely) whose output the teacher scores
    best: the length `generate(..., rescoring_model=teacher)` outputs, in source order."""
    chosen = torch.zeros(len(sources), dtype=torch.long)
    for indices, _, output in generate_ids(student, tokenizer, sources, batch_size, length_beam=length_beam,
                                           num_iterations=num_iterations, rescoring_model=teacher,
                                           return_dict_in_generate=True):
        chosen[indices] = output.lengths.cpu()
    return chosen


@torch.no_grad()
def length_summaries(
    student: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sources: list[str], batch_size: int = 64
) -> torch.Tensor:
    """The encoder's length summary vector of each source (what the length head reads), in source order."""
    limit = source_limit(student)
    rows = []
    for start in range(0, len(sources), batch_size):
        batch = tokenize_sources(tokenizer, sources[start : start + batch_size], limit).to(student.device)
        rows.append(student.model.encoder(batch["input_ids"], batch["attention_mask"]).length_hidden_state.float())
    return torch.cat(rows)


def top_length(student: PreTrainedModel, summaries: torch.Tensor) -> torch.LongTensor:
    """The length head's most likely length (0 excluded, as `generate` excludes it) for each summary vector."""
    with torch.no_grad():
        logits = student.length_predictor(summaries.to(student.dtype))
    return student._candidate_lengths(logits, 1)[:, 0]


def head_on(
    student: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    targets: dict[str, torch.LongTensor],
) -> dict[str, float]:
    """The length head's top length against each named set of target lengths (one per source): how often it is
    exact (`<name> exact`) and its mean offset in tokens (`<name> offset`, negative = too short)."""
    top = top_length(student, length_summaries(student, tokenizer, sources)).cpu()
    result = {}
    for name, lengths in targets.items():
        result[f"{name} exact"] = top.eq(lengths).float().mean().item()
        result[f"{name} offset"] = (top - lengths).float().mean().item()
    return result


def fit_length_head(
    student: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    target_lengths: torch.LongTensor,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    batch_size: int = 256,
    seed: int = 0,
) -> dict[str, float]:
    """Fit only `student.length_predictor` to `target_lengths` (cross-entropy), every other weight unchanged.

    The encoder's summaries are computed once, so this costs one encoder pass over the sources plus seconds.
    Returns the last batch's loss and how often the head's top length equals the target on these sources, before
    and after (`final_loss`, `agreement_before`, `agreement_after`).
    """
    if len(sources) != len(target_lengths):
        raise ValueError(f"{len(sources)} sources but {len(target_lengths)} target lengths: give one per source.")
    limit = student.config.max_target_positions
    if int(target_lengths.min()) < 1 or int(target_lengths.max()) > limit:
        raise ValueError(f"Target lengths must lie in 1..max_target_positions={limit}; got "
                         f"{int(target_lengths.min())}..{int(target_lengths.max())}.")
    was_training = student.training
    student.eval()
    summaries = length_summaries(student, tokenizer, sources)
    targets = target_lengths.to(summaries.device)
    before = top_length(student, summaries).eq(targets).float().mean().item()
    head = student.length_predictor
    optimizer = torch.optim.Adam(head.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    loss = torch.tensor(0.0)
    with torch.enable_grad():
        for _ in range(epochs):
            for rows in torch.randperm(len(sources), generator=generator).split(batch_size):
                rows = rows.to(summaries.device)
                loss = F.cross_entropy(head(summaries[rows].to(student.dtype)).float(), targets[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    after = top_length(student, summaries).eq(targets).float().mean().item()
    student.train(was_training)
    return {"final_loss": loss.item(), "agreement_before": before, "agreement_after": after}


__all__ = ["fit_length_head", "head_on", "length_summaries", "teacher_chosen_lengths", "top_length"]
