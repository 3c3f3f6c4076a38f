"""The frozen autoregressive teacher: loading it, checking it fits the student, and feeding it soft inputs.

Any `AutoModelForSeq2SeqLM` works as long as its decoder accepts `decoder_inputs_embeds` and its target
vocabulary is the student's output vocabulary. Everything teacher-specific that the energy needs lives here.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForSeq2SeqLM, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .configuration_cmlm import CMLMConfig


def load_teacher(teacher: str | PreTrainedModel, **from_pretrained_kwargs: Any) -> PreTrainedModel:
    """Load (hub id or local folder) or accept a teacher, and freeze it: eval mode, no parameter gradients."""
    if isinstance(teacher, str):
        try:
            teacher = AutoModelForSeq2SeqLM.from_pretrained(teacher, **from_pretrained_kwargs)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"Could not load the teacher {teacher!r} as a sequence-to-sequence model "
                f"(AutoModelForSeq2SeqLM): {str(error).splitlines()[0]}. Pass a local folder written by "
                "save_pretrained (e.g. from `engine-hf convert-bergamot` or `engine-hf train-teacher`) or a hub id."
            ) from error
    if not getattr(teacher.config, "is_encoder_decoder", False):
        raise ValueError(
            f"The teacher ({type(teacher).__name__}) is not an encoder-decoder model; ENGINE needs a "
            "conditional autoregressive teacher p(y | x) such as MarianMT, BART, T5 or EncoderDecoderModel."
        )
    if "decoder_inputs_embeds" not in inspect.signature(teacher.forward).parameters:
        raise ValueError(
            f"The teacher ({type(teacher).__name__}) cannot take `decoder_inputs_embeds`, which the energy "
            "needs to feed it the student's soft outputs. Use a model class whose forward accepts it."
        )
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def teacher_vocab_size(teacher: PreTrainedModel) -> int:
    """Number of classes of the teacher's output distribution."""
    output_embeddings = teacher.get_output_embeddings()
    if output_embeddings is not None:
        return output_embeddings.weight.shape[0]
    config = teacher.config.get_text_config(decoder=True)
    return getattr(config, "decoder_vocab_size", None) or config.vocab_size


def teacher_special_ids(teacher: PreTrainedModel) -> tuple[int, int]:
    """(decoder_start_token_id, eos_token_id) of the teacher, from its generation config or config."""
    sources = (teacher.generation_config, teacher.config, teacher.config.get_text_config(decoder=True))
    start = next((s.decoder_start_token_id for s in sources if getattr(s, "decoder_start_token_id", None) is not None), None)
    eos = next((s.eos_token_id for s in sources if getattr(s, "eos_token_id", None) is not None), None)
    if isinstance(eos, list):
        eos = eos[0]
    if start is None or eos is None:
        raise ValueError(
            "The teacher has no decoder_start_token_id/eos_token_id in its config or generation config; set them "
            "(e.g. teacher.config.decoder_start_token_id = tokenizer.pad_token_id) before energy training."
        )
    return int(start), int(eos)


def check_teacher_compatible(teacher: PreTrainedModel, student_config: CMLMConfig) -> None:
    """Refuse, up front, a teacher whose target vocabulary is not the student's output vocabulary."""
    vocab = teacher_vocab_size(teacher)
    if vocab != student_config.vocab_size:
        raise ValueError(
            f"Vocabulary mismatch: the teacher predicts {vocab} classes but the student outputs "
            f"{student_config.vocab_size}. The energy compares the two position by position, so they must share "
            "one vocabulary: build the student from the teacher with "
            "CMLMForConditionalGeneration.from_teacher(teacher) and tokenize with the teacher's tokenizer."
        )


def decoder_input_embeddings(teacher: PreTrainedModel) -> nn.Module:
    """The embedding module the teacher's decoder reads `decoder_input_ids` through."""
    return teacher.get_decoder().get_input_embeddings()


def soft_embed(teacher: PreTrainedModel, distributions: torch.Tensor) -> torch.Tensor:
    """Expected teacher input embedding under `distributions` (batch, len, vocab): O1(z) @ E.

    Emulates the embedding module on a one-hot input exactly: modules that scale inside their forward (BART's
    `BartScaledWordEmbedding`) expose `embed_scale`, while decoders that scale `inputs_embeds` themselves
    (Marian, Bergamot) must not be pre-scaled.
    """
    embedding = decoder_input_embeddings(teacher)
    weight = embedding.weight
    embeds = distributions.to(weight.dtype) @ weight
    return embeds * getattr(embedding, "embed_scale", 1.0)


def student_config_from_teacher(teacher: PreTrainedModel, **overrides: Any) -> CMLMConfig:
    """A CMLM config on the teacher's vocabulary and special ids, with the teacher's width and encoder shape."""
    config = teacher.config
    _, eos = teacher_special_ids(teacher)
    d_model = getattr(config, "d_model", None) or getattr(config, "hidden_size", 512)
    values: dict[str, Any] = {
        "vocab_size": teacher_vocab_size(teacher),
        "d_model": d_model,
        "encoder_layers": getattr(config, "encoder_layers", 6),
        "encoder_attention_heads": getattr(config, "encoder_attention_heads", 8),
        "encoder_ffn_dim": getattr(config, "encoder_ffn_dim", 4 * d_model),
        "decoder_attention_heads": getattr(config, "decoder_attention_heads", 8),
        "decoder_ffn_dim": getattr(config, "decoder_ffn_dim", 4 * d_model),
        "activation_function": getattr(config, "activation_function", "relu"),
        "scale_embedding": getattr(config, "scale_embedding", True),
        "layer_norm_eps": getattr(config, "layer_norm_eps", 1e-5),
        "pad_token_id": config.pad_token_id if config.pad_token_id is not None else eos,
        "eos_token_id": eos,
        "bos_token_id": getattr(config, "bos_token_id", None),
    }
    values.update(overrides)
    return CMLMConfig(**values)


def _copy_module(target: nn.Module, source: nn.Module | None) -> bool:
    """Copy `source` into `target` when every parameter name and shape agree; report whether it did."""
    if source is None:
        return False
    target_state, source_state = target.state_dict(), source.state_dict()
    if set(target_state) != set(source_state):
        return False
    if any(target_state[k].shape != source_state[k].shape for k in target_state):
        return False
    target.load_state_dict(source_state)
    return True


def _copy_positions(target: nn.Embedding, source: nn.Module | None) -> bool:
    weight = getattr(source, "weight", None)
    if weight is None or weight.shape[-1] != target.weight.shape[-1]:
        return False
    rows = min(weight.shape[0], target.weight.shape[0])
    with torch.no_grad():
        target.weight[:rows] = weight[:rows]
    return True


def copy_teacher_weights(student: nn.Module, teacher: PreTrainedModel) -> list[str]:
    """Initialise the student from the teacher where the architectures match; return what was copied.

    Always: the token embeddings (and the output projection tied to them) and the output bias. Where names and
    shapes match (Marian-style teachers, Bergamot's encoder): sinusoidal position tables into the student's
    learned ones, encoder layers, and decoder layers.
    """
    copied = []
    with torch.no_grad():
        student.get_input_embeddings().weight.copy_(decoder_input_embeddings(teacher).weight)
        copied.append("embeddings")
        bias = getattr(teacher, "final_logits_bias", None)
        if bias is None and teacher.get_output_embeddings() is not None:
            bias = teacher.get_output_embeddings().bias
        if bias is not None:
            student.final_logits_bias.copy_(bias.reshape(-1))
            copied.append("output_bias")
    teacher_encoder, teacher_decoder = teacher.get_encoder(), teacher.get_decoder()
    student_encoder, student_decoder = student.get_encoder(), student.get_decoder()
    for name, target, source in [
        ("encoder_positions", student_encoder.embed_positions, getattr(teacher_encoder, "embed_positions", None)),
        ("decoder_positions", student_decoder.embed_positions, getattr(teacher_decoder, "embed_positions", None)),
    ]:
        if _copy_positions(target, source):
            copied.append(name)
    for name, target, source in [
        ("encoder_layers", student_encoder.layers, getattr(teacher_encoder, "layers", None)),
        ("decoder_layers", student_decoder.layers, getattr(teacher_decoder, "layers", None)),
    ]:
        if _copy_module(target, source):
            copied.append(name)
    return copied


@torch.no_grad()
def teacher_energy_of_outputs(
    teacher: PreTrainedModel,
    input_ids: torch.LongTensor | None,
    attention_mask: torch.Tensor,
    output_ids: torch.LongTensor,
    pad_token_id: int,
    encoder_outputs: BaseModelOutput | None = None,
) -> torch.Tensor:
    """Mean -log p_teacher per token (the `</s>` included) of given outputs: the discrete energy of any system.

    `output_ids` are token sequences padded with `pad_token_id`, with or without a trailing `</s>`; the teacher's
    own shift of labels into decoder inputs (`prepare_decoder_input_ids_from_labels`) builds the teacher-forced
    input, so this works for teacher, CMLM and ENGINE outputs alike. Returns (batch,).
    `encoder_outputs`, the teacher's encoding of `input_ids`, skips encoding them again (several outputs of one
    source: the length candidates of `generate(rescoring_model=...)`).
    """
    _, eos = teacher_special_ids(teacher)
    tokens = [row[(row != pad_token_id) & (row != eos)].tolist() for row in output_ids.cpu()]
    width = max(len(t) for t in tokens) + 1
    labels = torch.full((len(tokens), width), -100, dtype=torch.long)
    for i, row in enumerate(tokens):
        labels[i, : len(row) + 1] = torch.tensor([*row, eos])
    labels = labels.to(attention_mask.device)
    source = {"input_ids": input_ids} if encoder_outputs is None else {"encoder_outputs": encoder_outputs}
    # The decoder inputs the teacher's own `labels` path would build, without the loss it would also compute over
    # the whole vocabulary (half the cost of scoring, on a 32k vocabulary).
    logits = teacher(**source, attention_mask=attention_mask,
                     decoder_input_ids=teacher.prepare_decoder_input_ids_from_labels(labels=labels)).logits.float()
    real = labels.ne(-100)
    nll = -logits.log_softmax(-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (nll * real).sum(-1) / real.sum(-1)


__all__ = [
    "check_teacher_compatible",
    "copy_teacher_weights",
    "decoder_input_embeddings",
    "load_teacher",
    "soft_embed",
    "student_config_from_teacher",
    "teacher_energy_of_outputs",
    "teacher_special_ids",
    "teacher_vocab_size",
]
