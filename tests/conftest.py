"""Shared tiny fixtures: a real public-domain verse corpus, a tokenizer trained on it, tiny configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))
FIXTURES = Path(__file__).parent / "fixtures"


def read_pairs(name: str = "bible_de_en.jsonl", src: str = "de", tgt: str = "en") -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["translation"][src], r["translation"][tgt]) for r in rows]


@pytest.fixture(scope="session")
def pairs() -> list[tuple[str, str]]:
    return read_pairs()


@pytest.fixture(scope="session")
def tokenizer(pairs):
    from engine_hf.tokenization import train_joint_tokenizer

    return train_joint_tokenizer([text for pair in pairs for text in pair], vocab_size=600)


def tiny_cmlm_config(tokenizer=None, **overrides):
    from engine_hf import CMLMConfig

    values = dict(
        vocab_size=len(tokenizer) if tokenizer is not None else 60,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        dropout=0.0,
        max_source_positions=64,
        max_target_positions=48,
        pad_token_id=tokenizer.pad_token_id if tokenizer is not None else 0,
        eos_token_id=tokenizer.eos_token_id if tokenizer is not None else 1,
    )
    values.update(overrides)
    return CMLMConfig(**values)


def tiny_marian(tokenizer, **overrides):
    from transformers import MarianConfig, MarianMTModel

    values = dict(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=None,
        scale_embedding=True,
        activation_function="relu",
        dropout=0.0,
    )
    values.update(overrides)
    torch.manual_seed(0)
    return MarianMTModel(MarianConfig(**values))
