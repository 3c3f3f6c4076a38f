"""Batching for CMLM training: pad sources and targets, and mask a uniform random number of target tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence


@dataclass
class DataCollatorForCMLM:
    """Collate `{"input_ids": [...], "labels": [...]}` features into a CMLM training batch.

    For every target of length L it draws n ~ Uniform{1..L} and replaces n random positions of the decoder input
    by `<mask>` (Ghazvininejad et al., 2019, Sec. 3.1); the model scores only those. `labels` stay the full
    reference (-100 on padding) so that `Seq2SeqTrainer` can compute BLEU against it, and the oracle length is
    simply the number of labels.

    Args:
        pad_token_id: Padding id for sources and decoder inputs.
        mask_token_id: The model's `config.mask_token_id`.
        max_source_positions / max_target_positions: Limits of the model; longer examples are an error here
            (truncate when tokenizing) rather than a silent crop that would misalign the length targets.
        mask_all: Mask every target position: the first pass of decoding, and all that ENGINE's energy training
            needs. Deterministic, so a resumed run sees exactly the random numbers an uninterrupted one would.
        generator: Optional `torch.Generator` for reproducible masks.
    """

    pad_token_id: int
    mask_token_id: int
    max_source_positions: int | None = None
    max_target_positions: int | None = None
    mask_all: bool = False
    generator: torch.Generator | None = None

    @classmethod
    def for_model(cls, model: Any, **kwargs: Any) -> DataCollatorForCMLM:
        """A collator that matches a `CMLMForConditionalGeneration`'s special ids and limits."""
        config = model.config
        return cls(
            pad_token_id=config.pad_token_id,
            mask_token_id=config.mask_token_id,
            max_source_positions=config.max_source_positions,
            max_target_positions=config.max_target_positions,
            **kwargs,
        )

    def _check_lengths(self, sources: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> None:
        longest_source = max(len(s) for s in sources)
        longest_target = max(len(t) for t in targets)
        if self.max_source_positions and longest_source > self.max_source_positions:
            raise ValueError(
                f"A source has {longest_source} tokens > max_source_positions={self.max_source_positions}: tokenize "
                f"with truncation=True, max_length={self.max_source_positions}, or filter long pairs."
            )
        if self.max_target_positions and longest_target > self.max_target_positions:
            raise ValueError(
                f"A target has {longest_target} tokens > max_target_positions={self.max_target_positions}: filter "
                "long pairs before training (cropping would teach the length predictor wrong lengths)."
            )
        if min(len(t) for t in targets) == 0:
            raise ValueError("A training target is empty: drop pairs with an empty translation before training.")

    def mask_targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Decoder input: labels with n ~ U{1..L} random positions per row replaced by `<mask>`."""
        real = labels.ne(-100)
        decoder_input_ids = labels.masked_fill(~real, self.pad_token_id)
        if self.mask_all:  # draws no random numbers, so it leaves the training RNG stream untouched
            return decoder_input_ids.masked_fill(real, self.mask_token_id)
        lengths = real.sum(-1)
        draw = torch.rand(lengths.shape, generator=self.generator)
        num_masked = (draw * lengths).long() + 1  # uniform over 1..L
        scores = torch.rand(labels.shape, generator=self.generator).masked_fill(~real, 2.0)
        ranks = scores.argsort(-1).argsort(-1)
        is_masked = ranks < num_masked.unsqueeze(-1)
        return decoder_input_ids.masked_fill(is_masked, self.mask_token_id)

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        sources = [torch.as_tensor(f["input_ids"], dtype=torch.long) for f in features]
        targets = [torch.as_tensor(f["labels"], dtype=torch.long) for f in features]
        self._check_lengths(sources, targets)
        input_ids = pad_sequence(sources, batch_first=True, padding_value=self.pad_token_id)
        attention_mask = pad_sequence([torch.ones_like(s) for s in sources], batch_first=True, padding_value=0)
        labels = pad_sequence(targets, batch_first=True, padding_value=-100)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": self.mask_targets(labels),
            "labels": labels,
        }


__all__ = ["DataCollatorForCMLM"]
