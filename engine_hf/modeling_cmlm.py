"""PyTorch CMLM ("Mask-Predict", Ghazvininejad et al. 2019): the non-autoregressive inference network of ENGINE.

Reads bottom-up, like transformers' own model files:
attention -> encoder/decoder layers -> length predictor -> encoder / decoder -> `CMLMModel`
-> `CMLMForConditionalGeneration` (loss, `generate()` = length beam + mask-predict, `from_teacher`).

The layers deliberately use BART/Marian parameter names (`self_attn.q_proj`, `fc1`, `final_layer_norm`, ...), so a
Marian-style teacher's encoder can be copied into the student by `load_state_dict` (`from_teacher`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import GenerationConfig, GenerationMixin, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import BaseModelOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput, logging

from .configuration_cmlm import CMLMConfig

logger = logging.get_logger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class CMLMEncoderOutput(BaseModelOutput):
    """Encoder states (without the `<length>` slot) plus the vector the length predictor reads."""

    length_hidden_state: torch.FloatTensor | None = None


@dataclass
class CMLMOutput(ModelOutput):
    """
    Args:
        loss: `token_loss + length_loss_weight * length_loss` when labels are given.
        logits: (batch, target_len, vocab_size) per-position scores; ids the decoder may never emit are `-inf`.
        length_logits: (batch, max_target_positions + 1) scores of the absolute target length.
        token_loss: Cross-entropy over masked positions only (label-smoothed if configured).
        length_loss: Cross-entropy of the length classifier against `target_lengths`.
        encoder_last_hidden_state: Encoder states, reusable across refinement iterations.
        decoder_lengths: (batch,) number of real target positions that were decoded.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    length_logits: torch.FloatTensor | None = None
    token_loss: torch.FloatTensor | None = None
    length_loss: torch.FloatTensor | None = None
    encoder_last_hidden_state: torch.FloatTensor | None = None
    decoder_lengths: torch.LongTensor | None = None


@dataclass
class CMLMGenerateOutput(ModelOutput):
    """
    Args:
        sequences: (batch, len) chosen translations: tokens, then `</s>`, then padding.
        scores: (batch,) mean log-probability per token of the chosen candidate: the length-beam selection
            criterion, under the CMLM itself or, with `generate(rescoring_model=...)`, under the rescoring model
            (then it is minus the teacher energy, `</s>` included).
        lengths: (batch,) length of the chosen candidate (0 for an empty source).
        candidate_scores: (batch, length_beam) the same score for every length candidate.
        candidate_lengths: (batch, length_beam) the candidate lengths.
    """

    sequences: torch.LongTensor | None = None
    scores: torch.FloatTensor | None = None
    lengths: torch.LongTensor | None = None
    candidate_scores: torch.FloatTensor | None = None
    candidate_lengths: torch.LongTensor | None = None


# ---------------------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------------------
def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T * scaling + mask) V, the reference the faster kernels (sdpa, flash) are tested against."""
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class CMLMAttention(nn.Module):
    """Multi-head attention with no causal mask anywhere: the whole point of a CMLM decoder.

    `is_causal = False` is load-bearing: transformers' sdpa path assumes a causal mask when a module does not say
    otherwise and no mask is passed (e.g. a batch without padding).
    """

    is_causal = False

    def __init__(self, config: CMLMConfig, num_heads: int):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = config.d_model // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        memory = hidden_states if key_value_states is None else key_value_states
        batch, q_len, _ = hidden_states.shape
        query = self.q_proj(hidden_states).view(batch, q_len, -1, self.head_dim).transpose(1, 2)
        key = self.k_proj(memory).view(batch, memory.shape[1], -1, self.head_dim).transpose(1, 2)
        value = self.v_proj(memory).view(batch, memory.shape[1], -1, self.head_dim).transpose(1, 2)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, _ = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=False,
        )
        return self.out_proj(attn_output.reshape(batch, q_len, -1))


class CMLMEncoderLayer(nn.Module):
    """Post-norm Transformer layer (residual, then LayerNorm), as in Marian, Bergamot and the CMLM paper."""

    def __init__(self, config: CMLMConfig):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.activation_fn = ACT2FN[config.activation_function]
        self.self_attn = CMLMAttention(config, config.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)

    def feed_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        hidden_states = F.dropout(self.fc2(hidden_states), p=self.dropout, training=self.training)
        return self.final_layer_norm(residual + hidden_states)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(hidden_states, attention_mask=attention_mask)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.self_attn_layer_norm(residual + hidden_states)
        return self.feed_forward(hidden_states)


class CMLMDecoderLayer(CMLMEncoderLayer):
    """An encoder layer plus cross-attention to the source; its self-attention sees the whole target."""

    def __init__(self, config: CMLMConfig):
        super().__init__(config)
        self.self_attn = CMLMAttention(config, config.decoder_attention_heads)
        self.encoder_attn = CMLMAttention(config, config.decoder_attention_heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(hidden_states, attention_mask=attention_mask)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.self_attn_layer_norm(residual + hidden_states)
        residual = hidden_states
        hidden_states = self.encoder_attn(
            hidden_states, key_value_states=encoder_hidden_states, attention_mask=encoder_attention_mask
        )
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.encoder_attn_layer_norm(residual + hidden_states)
        return self.feed_forward(hidden_states)


class CMLMLengthPredictor(nn.Module):
    """Classifies the absolute target length (0..max_target_positions) from one encoder summary vector."""

    def __init__(self, config: CMLMConfig):
        super().__init__()
        self.proj = nn.Linear(config.d_model, config.max_target_positions + 1)

    def forward(self, length_hidden_state: torch.Tensor) -> torch.Tensor:
        return self.proj(length_hidden_state)


# ---------------------------------------------------------------------------------------------------------------
# Pre-trained base
# ---------------------------------------------------------------------------------------------------------------
class CMLMPreTrainedModel(PreTrainedModel):
    config: CMLMConfig
    config_class = CMLMConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _supports_sdpa = True
    _supports_flash_attn = False
    _no_split_modules = ["CMLMEncoderLayer", "CMLMDecoderLayer"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, CMLMDecoder):
            nn.init.normal_(module.mask_embedding, std=self.config.init_std)
        elif isinstance(module, CMLMEncoder) and module.length_embedding is not None:
            nn.init.normal_(module.length_embedding, std=self.config.init_std)
        elif isinstance(module, CMLMForConditionalGeneration):
            nn.init.zeros_(module.final_logits_bias)


def _embed_scale(config: CMLMConfig) -> float:
    return math.sqrt(config.d_model) if config.scale_embedding else 1.0


# ---------------------------------------------------------------------------------------------------------------
# Encoder and decoder
# ---------------------------------------------------------------------------------------------------------------
class CMLMEncoder(CMLMPreTrainedModel):
    """Transformer encoder; with `length_prediction="token"` a learned `<length>` vector is prepended.

    The `<length>` slot takes no position embedding and is removed from the returned states, so the decoder
    never attends to it and a teacher-initialised encoder sees its tokens at the positions it was trained on.
    """

    def __init__(self, config: CMLMConfig, embed_tokens: nn.Embedding):
        super().__init__(config)
        self.dropout = config.dropout
        self.embed_scale = _embed_scale(config)
        self.embed_tokens = embed_tokens
        self.embed_positions = nn.Embedding(config.max_source_positions, config.d_model)
        self.length_embedding = (
            nn.Parameter(torch.zeros(config.d_model)) if config.length_prediction == "token" else None
        )
        self.layers = nn.ModuleList(CMLMEncoderLayer(config) for _ in range(config.encoder_layers))
        self.post_init()

    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None) -> CMLMEncoderOutput:
        batch, src_len = input_ids.shape
        if src_len > self.config.max_source_positions:
            raise ValueError(
                f"The source has {src_len} tokens but this model accepts at most max_source_positions="
                f"{self.config.max_source_positions}. Tokenize with truncation=True, "
                f"max_length={self.config.max_source_positions} (the pipeline does this and warns)."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        positions = torch.arange(src_len, device=input_ids.device)
        hidden_states = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions(positions)
        if self.length_embedding is not None:
            length_slot = self.length_embedding.expand(batch, 1, -1).to(hidden_states.dtype)
            hidden_states = torch.cat([length_slot, hidden_states], dim=1)
            attention_mask = torch.cat([attention_mask.new_ones(batch, 1), attention_mask], dim=1)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        mask_4d = create_bidirectional_mask(self.config, hidden_states, attention_mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask_4d)

        if self.length_embedding is not None:
            length_hidden_state, hidden_states = hidden_states[:, 0], hidden_states[:, 1:]
        else:
            keep = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
            length_hidden_state = (hidden_states * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return CMLMEncoderOutput(last_hidden_state=hidden_states, length_hidden_state=length_hidden_state)


class CMLMDecoder(CMLMPreTrainedModel):
    """Non-causal Transformer decoder over (partially) masked target tokens.

    The mask has its own learned embedding row (`mask_embedding`) instead of a vocabulary entry, so the output
    layer stays exactly the teacher's vocabulary and can never put mass on `<mask>`.
    """

    def __init__(self, config: CMLMConfig, embed_tokens: nn.Embedding):
        super().__init__(config)
        self.dropout = config.dropout
        self.embed_scale = _embed_scale(config)
        self.embed_tokens = embed_tokens
        self.mask_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.embed_positions = nn.Embedding(config.max_target_positions, config.d_model)
        self.layers = nn.ModuleList(CMLMDecoderLayer(config) for _ in range(config.decoder_layers))
        self.post_init()

    def embed(self, decoder_input_ids: torch.LongTensor) -> torch.Tensor:
        is_mask = decoder_input_ids.eq(self.config.mask_token_id)
        token_ids = decoder_input_ids.masked_fill(is_mask, 0).clamp(max=self.config.vocab_size - 1)
        embeddings = self.embed_tokens(token_ids)
        mask_row = self.mask_embedding.to(embeddings.dtype).expand_as(embeddings)
        return torch.where(is_mask.unsqueeze(-1), mask_row, embeddings)

    def forward(
        self,
        decoder_input_ids: torch.LongTensor,
        decoder_attention_mask: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        tgt_len = decoder_input_ids.shape[1]
        if tgt_len > self.config.max_target_positions:
            raise ValueError(
                f"The target has {tgt_len} positions but max_target_positions={self.config.max_target_positions}."
            )
        positions = torch.arange(tgt_len, device=decoder_input_ids.device)
        hidden_states = self.embed(decoder_input_ids) * self.embed_scale + self.embed_positions(positions)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        self_mask = create_bidirectional_mask(self.config, hidden_states, decoder_attention_mask)
        cross_mask = create_bidirectional_mask(
            self.config, hidden_states, encoder_attention_mask, encoder_hidden_states=encoder_hidden_states
        )
        for layer in self.layers:
            hidden_states = layer(hidden_states, self_mask, encoder_hidden_states, cross_mask)
        return hidden_states


class CMLMModel(CMLMPreTrainedModel):
    """Encoder + decoder sharing one token embedding (source and target use the teacher's joint vocabulary)."""

    _tied_weights_keys = {
        "encoder.embed_tokens.weight": "shared.weight",
        "decoder.embed_tokens.weight": "shared.weight",
    }

    def __init__(self, config: CMLMConfig):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = CMLMEncoder(config, self.shared)
        self.decoder = CMLMDecoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.embed_tokens = value
        self.decoder.embed_tokens = value

    def get_encoder(self) -> CMLMEncoder:
        return self.encoder

    def get_decoder(self) -> CMLMDecoder:
        return self.decoder


# ---------------------------------------------------------------------------------------------------------------
# The model users meet
# ---------------------------------------------------------------------------------------------------------------
def masked_token_loss(
    logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not -100.

    Label smoothing spreads its mass over the *emittable* classes only: the `-inf` logits of never-emitted ids
    would otherwise turn the smoothing term into -inf.
    """
    scored = labels.ne(-100)
    log_probs = F.log_softmax(logits[scored].float(), dim=-1)
    nll = -log_probs.gather(-1, labels[scored].unsqueeze(-1)).squeeze(-1)
    if label_smoothing == 0.0:
        return nll.mean()
    emittable = torch.isfinite(log_probs)
    smooth = -log_probs.masked_fill(~emittable, 0.0).sum(-1) / emittable.sum(-1)
    return ((1.0 - label_smoothing) * nll + label_smoothing * smooth).mean()


GENERATION_DEFAULTS = {"num_iterations": 10, "length_beam": 5}
# Settings Seq2SeqTrainer and GenerationMixin callers pass that have no meaning for parallel decoding.
# `max_length` is among them: lengths come from the length predictor (capped at max_target_positions), and
# Seq2SeqTrainer writes a default max_length of 20 into the generation config that must not crop outputs.
# `do_sample=False` is accepted for the same callers; `do_sample=True` is refused (decoding is deterministic).
# Up to this many positions, `_best_tokens` projects vocabulary-major (W h^T): measured on 2 AMD EPYC cores, a
# batch-1 pass (10-30 positions) ran 5-25% faster that way, and 256-position chunks 10-20% slower.
VOCABULARY_MAJOR_MAX_ROWS = 32
_IGNORED_GENERATION_KWARGS = {"synced_gpus", "labels", "max_length", "max_new_tokens", "use_cache"}


class CMLMForConditionalGeneration(CMLMPreTrainedModel, GenerationMixin):
    """The CMLM with its output layer, training loss and non-autoregressive `generate()`."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    # The loss is a per-batch mean, so the Trainer must not rescale it by the number of items.
    accepts_loss_kwargs = False

    def __init__(self, config: CMLMConfig):
        super().__init__(config)
        # None: the encoder is not frozen; False / True: frozen by `freeze_encoder`, without / with dropout.
        self.frozen_encoder_dropout: bool | None = None
        self.model = CMLMModel(config)
        self.length_predictor = CMLMLengthPredictor(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.final_logits_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.post_init()
        # A generation config of its own rather than one "from the model config": transformers drops custom
        # fields (num_iterations, length_beam) when it reloads a config marked as derived from the model config.
        self.generation_config = GenerationConfig(
            pad_token_id=config.pad_token_id, eos_token_id=config.eos_token_id, **GENERATION_DEFAULTS
        )

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def get_encoder(self) -> CMLMEncoder:
        return self.model.encoder

    def get_decoder(self) -> CMLMDecoder:
        return self.model.decoder

    def freeze_encoder(self, dropout: bool = False) -> None:
        """Stop training the encoder, its token embeddings included (tied, they are also the decoder's input
        embeddings and the output layer); unless `dropout`, it also stays in eval mode under `model.train()`.

        Why no dropout: a frozen encoder learns nothing from it, so dropout there only perturbs the states that the
        decoder and the length head train on, states they never see at inference. A teacher's encoder may never have
        met dropout (the Firefox Translations models were trained without it): at 0.1 it moves the labels students'
        length summary by 40% of its norm. `dropout=True` keeps the earlier behaviour, which every benchmark table
        before the `still_encoder` stage was trained with.
        """
        self.get_encoder().requires_grad_(False)
        self.frozen_encoder_dropout = dropout
        self.train(self.training)

    def train(self, mode: bool = True) -> CMLMForConditionalGeneration:
        """`nn.Module.train`, except that an encoder frozen by `freeze_encoder()` stays in eval mode (see there)."""
        super().train(mode)
        if self.frozen_encoder_dropout is False:
            self.get_encoder().train(False)
        return self

    @classmethod
    def from_teacher(cls, teacher: PreTrainedModel, **config_overrides) -> CMLMForConditionalGeneration:
        """A student on the teacher's vocabulary (plus its own `<mask>` row), initialised from the teacher.

        Copies the teacher's embeddings, output bias and, where names and shapes match, position tables and
        encoder/decoder layers (`engine_hf.teacher.copy_teacher_weights`). `config_overrides` set any
        `CMLMConfig` field, e.g. `decoder_layers=3, length_prediction="mean_pool"`.
        """
        from .teacher import copy_teacher_weights, student_config_from_teacher

        student = cls(student_config_from_teacher(teacher, **config_overrides))
        copied = copy_teacher_weights(student, teacher)
        logger.info("Initialised the CMLM from the teacher: copied %s.", ", ".join(copied))
        return student

    # --- forward ---------------------------------------------------------------------------------------------
    def all_masked_decoder_input_ids(self, lengths: torch.LongTensor) -> torch.LongTensor:
        """`<mask>` at positions < length, padding after: the decoder input of a first (or only) parallel pass."""
        positions = torch.arange(int(lengths.max()), device=lengths.device)
        real = positions < lengths.unsqueeze(-1)
        return torch.where(real, self.config.mask_token_id, self.config.pad_token_id)

    def decode(
        self,
        decoder_input_ids: torch.LongTensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits for every target position in one parallel pass; never-emitted ids get `-inf`."""
        if decoder_attention_mask is None:
            decoder_attention_mask = decoder_input_ids.ne(self.config.pad_token_id)
        hidden_states = self.model.decoder(
            decoder_input_ids, decoder_attention_mask, encoder_hidden_states, attention_mask
        )
        return self.output_logits(hidden_states)

    def output_logits(self, hidden_states: torch.Tensor, vocabulary_major: bool = False) -> torch.Tensor:
        """The output layer: vocabulary logits of decoder states, with `-inf` for the ids a CMLM never emits.

        The bias is added after the product, in the states' dtype: under bf16 autocast the product is bf16 and the
        sum comes back in float32, so the energy and the loss see float32 logits.

        `vocabulary_major=True` computes the same product the other way round, (W h^T)^T, for decoding: with the
        few positions of a batch-1 parallel pass, CPU GEMM runs it about twice as fast as `nn.Linear`'s h W^T
        (docs/RESULTS.md, speed sections). Training keeps `nn.Linear`'s kernel, so recorded models rebuild bit for bit; an
        output layer that is not a plain `nn.Linear` (a shortlist, a quantised layer) is always called as it is.
        """
        if vocabulary_major and type(self.lm_head) is nn.Linear:
            flat = hidden_states.reshape(-1, hidden_states.shape[-1])
            product = (self.lm_head.weight @ flat.T).T.reshape(*hidden_states.shape[:-1], -1).contiguous()
            if self.lm_head.bias is not None:
                product = product + self.lm_head.bias
        else:
            product = self.lm_head(hidden_states)
        logits = product + self.final_logits_bias.to(hidden_states.dtype)
        never_emitted = torch.tensor(self.config.never_emitted_token_ids, device=logits.device, dtype=torch.long)
        return logits.index_fill_(-1, never_emitted, float("-inf"))

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        target_lengths: torch.LongTensor | None = None,
        encoder_outputs: CMLMEncoderOutput | None = None,
        decode_predicted_lengths: bool = False,
        **kwargs,
    ) -> CMLMOutput:
        """
        Args:
            input_ids / attention_mask: The source, ending with `</s>`.
            decoder_input_ids: Target tokens with some replaced by `config.mask_token_id`; padding = pad id.
                Omitted with `labels`: every target position is masked (the first mask-predict pass).
            decoder_attention_mask: 1 on real target positions (derived from the pad id when omitted).
            labels: The full reference target (no `</s>`), -100 on padding. Only positions that are masked in
                `decoder_input_ids` are scored, as in Mask-Predict; keeping the full reference here lets
                `Seq2SeqTrainer` compute BLEU against it.
            target_lengths: True target lengths for the length loss; counted from `labels` when omitted. Without
                `decoder_input_ids`, the decoder runs all-masked at these lengths.
            decode_predicted_lengths: Without `decoder_input_ids`, decode all-masked at the model's own most likely
                lengths instead (ENGINE's source-only training); `target_lengths` still feed the length loss.
        """
        if encoder_outputs is None:
            encoder_outputs = self.model.encoder(input_ids, attention_mask)
        if labels is not None and target_lengths is None:
            target_lengths = labels.ne(-100).sum(-1)
        length_logits = self.length_predictor(encoder_outputs.length_hidden_state)
        if decoder_input_ids is None:
            if decode_predicted_lengths:
                decoder_input_ids = self.all_masked_decoder_input_ids(
                    self._candidate_lengths(length_logits.detach(), 1)[:, 0]
                )
            elif target_lengths is not None:
                decoder_input_ids = self.all_masked_decoder_input_ids(target_lengths)
        logits = decoder_lengths = None
        if decoder_input_ids is not None:
            if decoder_attention_mask is None:
                decoder_attention_mask = decoder_input_ids.ne(self.config.pad_token_id)
            decoder_lengths = decoder_attention_mask.sum(-1)
            logits = self.decode(
                decoder_input_ids, encoder_outputs.last_hidden_state, attention_mask, decoder_attention_mask
            )

        loss = token_loss = length_loss = None
        if labels is not None and labels.shape == decoder_input_ids.shape:
            is_masked = decoder_input_ids.eq(self.config.mask_token_id) & labels.ne(-100)
            token_loss = masked_token_loss(logits, labels.masked_fill(~is_masked, -100), self.config.label_smoothing)
            loss = token_loss
        if target_lengths is not None:
            length_loss = F.cross_entropy(length_logits.float(), target_lengths)
            weighted = self.config.length_loss_weight * length_loss
            loss = weighted if loss is None else loss + weighted
        return CMLMOutput(
            loss=loss,
            logits=logits,
            length_logits=length_logits,
            token_loss=token_loss,
            length_loss=length_loss,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            decoder_lengths=decoder_lengths,
        )

    # --- generation --------------------------------------------------------------------------------------------
    def _resolve_generation_config(self, generation_config: GenerationConfig | None, kwargs: dict) -> GenerationConfig:
        """Merge call-time settings into a copy of the model's generation config; refuse unknown ones.

        A shallow copy: only top-level settings are replaced, and a deep copy costs more than a parallel pass's
        length head at batch 1."""
        config = copy.copy(generation_config or self.generation_config)
        for name, value in GENERATION_DEFAULTS.items():
            if getattr(config, name, None) is None:
                setattr(config, name, value)
        for name, value in kwargs.items():
            if name in _IGNORED_GENERATION_KWARGS:
                continue
            if name == "do_sample":
                if value:
                    raise ValueError(
                        "do_sample=True: mask-predict decoding is deterministic (argmax at every position). Use "
                        "length_beam and num_iterations to trade speed for quality."
                    )
                continue
            if name == "num_beams":
                if value not in (None, 1):
                    raise ValueError(
                        f"num_beams={value}: a CMLM has no left-to-right beam. Use length_beam=k to decode k "
                        "length candidates in parallel."
                    )
                continue
            if name in GENERATION_DEFAULTS:
                setattr(config, name, value)
                continue
            raise ValueError(
                f"Unknown generation setting {name!r} for a CMLM. Valid settings: num_iterations, length_beam, "
                "target_lengths, return_dict_in_generate, rescoring_model (max_length, max_new_tokens, use_cache "
                "are ignored)."
            )
        if int(config.num_iterations) < 1 or int(config.length_beam) < 1:
            raise ValueError(
                f"num_iterations ({config.num_iterations}) and length_beam ({config.length_beam}) must be >= 1: "
                "num_iterations=1 is one parallel pass, length_beam=1 decodes only the most likely length."
            )
        return config

    def _source_is_empty(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor) -> torch.Tensor:
        specials = torch.tensor(
            [i for i in (self.config.pad_token_id, self.config.eos_token_id, self.config.bos_token_id) if i is not None],
            device=input_ids.device,
        )
        content = attention_mask.bool() & ~torch.isin(input_ids, specials)
        return ~content.any(-1)

    @staticmethod
    def _candidate_lengths(length_logits: torch.Tensor, length_beam: int) -> torch.LongTensor:
        """Top-k target lengths, excluding 0 (an empty output is only ever produced for an empty source)."""
        length_logits = length_logits.clone()
        length_logits[:, 0] = float("-inf")
        k = min(length_beam, length_logits.shape[-1] - 1)
        return length_logits.topk(k, dim=-1).indices

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        target_lengths: torch.LongTensor | None = None,
        return_dict_in_generate: bool | None = None,
        rescoring_model: PreTrainedModel | None = None,
        **kwargs,
    ) -> torch.LongTensor | CMLMGenerateOutput:
        """Parallel decoding: length beam + mask-predict (Ghazvininejad et al., 2019, Sec. 3).

        1. Encode once; take the `length_beam` most likely lengths (or the given oracle `target_lengths`).
        2. Iteration 1 fills every position of every candidate from an all-`<mask>` input.
        3. Iteration t = 2..T re-masks the n = floor(L (1 - (t-1)/T)) lowest-probability tokens of each candidate
           and re-predicts only those; the others keep their tokens and probabilities.
        4. Return, per source, the candidate with the best mean log-probability: the CMLM's own, or, given a
           `rescoring_model` (the autoregressive teacher), the teacher's in one teacher-forced pass over all
           candidates (noisy parallel decoding's rescoring, Gu et al., 2018; see `_rescoring_scores`).

        Sources with no content (only special tokens) get an empty translation (`</s>` alone), by design.
        Returns token ids `[y_1 .. y_L, </s>, <pad> ...]`, or a `CMLMGenerateOutput` with scores when
        `return_dict_in_generate` (the argument, else the generation config's) is true.
        """
        config = self._resolve_generation_config(generation_config, kwargs)
        if return_dict_in_generate is None:
            return_dict_in_generate = bool(getattr(config, "return_dict_in_generate", False))
        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id).long()
        empty = self._source_is_empty(input_ids, attention_mask)
        encoder_outputs = self.model.encoder(input_ids, attention_mask)
        batch = input_ids.shape[0]

        if target_lengths is not None:
            lengths = torch.as_tensor(target_lengths, device=input_ids.device).view(batch, 1)
            if lengths.max() > self.config.max_target_positions:
                raise ValueError(
                    f"target_lengths up to {int(lengths.max())} exceed max_target_positions="
                    f"{self.config.max_target_positions}."
                )
        else:
            length_logits = self.length_predictor(encoder_outputs.length_hidden_state)
            lengths = self._candidate_lengths(length_logits, int(config.length_beam))
        lengths = lengths.masked_fill(empty.unsqueeze(-1), 0)
        beam = lengths.shape[1]

        # Decode all (source, length) candidates as one flat batch.
        flat_lengths = lengths.reshape(-1).clamp(min=1)
        memory = encoder_outputs.last_hidden_state.repeat_interleave(beam, dim=0)
        memory_mask = attention_mask.repeat_interleave(beam, dim=0)
        tokens, token_log_probs = self._mask_predict(flat_lengths, memory, memory_mask, int(config.num_iterations))

        if rescoring_model is None:
            real = torch.arange(tokens.shape[1], device=tokens.device) < flat_lengths.unsqueeze(-1)
            candidate_scores = (token_log_probs * real).sum(-1) / flat_lengths
        else:
            # lengths, not the clamped flat_lengths: an empty source is scored as the `</s>` it will get.
            candidate_scores = self._rescoring_scores(rescoring_model, input_ids, attention_mask, tokens,
                                                      lengths.reshape(-1))
        candidate_scores = candidate_scores.view(batch, beam)
        best = candidate_scores.argmax(-1)
        rows = torch.arange(batch, device=tokens.device) * beam + best
        chosen_lengths = lengths.gather(1, best.unsqueeze(-1)).squeeze(-1)

        sequences = self._finalise(tokens[rows], chosen_lengths)
        if not return_dict_in_generate:
            return sequences
        return CMLMGenerateOutput(
            sequences=sequences,
            scores=candidate_scores.gather(1, best.unsqueeze(-1)).squeeze(-1),
            lengths=chosen_lengths,
            candidate_scores=candidate_scores,
            candidate_lengths=lengths,
        )

    def _rescoring_scores(
        self,
        rescoring_model: PreTrainedModel,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor,
        tokens: torch.LongTensor,
        lengths: torch.LongTensor,
        chunk_size: int = 64,
    ) -> torch.Tensor:
        """Minus the rescoring model's energy (mean -log p per token, `</s>` included) of each flat candidate.

        Why: the CMLM's own score picks among its length candidates poorly, and an autoregressive teacher judges
        finished outputs well (the benchmarks' `ranking` stage). Scoring costs one teacher-forced pass, every
        position at once, so decoding stays parallel. The teacher encodes each source once, and the candidates are
        scored `chunk_size` at a time so that its full-vocabulary logits stay small.
        """
        from .teacher import check_teacher_compatible, teacher_energy_of_outputs

        check_teacher_compatible(rescoring_model, self.config)
        if rescoring_model.training:
            raise ValueError(
                "The rescoring model is in training mode, so dropout would make its choice random: call "
                "rescoring_model.eval(), or load it with engine_hf.load_teacher (which freezes it)."
            )
        beam = tokens.shape[0] // input_ids.shape[0]
        device = rescoring_model.device
        attention_mask = attention_mask.to(device)
        encoded = rescoring_model.get_encoder()(input_ids=input_ids.to(device), attention_mask=attention_mask)
        memory = encoded.last_hidden_state.repeat_interleave(beam, dim=0)
        memory_mask = attention_mask.repeat_interleave(beam, dim=0)
        candidates = self._finalise(tokens, lengths).to(device)
        energies = [
            teacher_energy_of_outputs(
                rescoring_model, None, memory_mask[rows], candidates[rows], self.config.pad_token_id,
                encoder_outputs=BaseModelOutput(last_hidden_state=memory[rows]),
            )
            for rows in torch.arange(len(candidates), device=device).split(chunk_size)
        ]
        return -torch.cat(energies).to(tokens.device)

    def _mask_predict(
        self,
        lengths: torch.LongTensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        num_iterations: int,
    ) -> tuple[torch.LongTensor, torch.Tensor]:
        """Mask-predict refinement for a flat batch of candidates with the given lengths."""
        tokens = self.all_masked_decoder_input_ids(lengths)
        real = tokens.ne(self.config.pad_token_id)
        token_log_probs = torch.zeros(real.shape, dtype=memory.dtype, device=memory.device)
        is_masked = real.clone()
        for iteration in range(num_iterations):
            hidden_states = self.model.decoder(tokens, real, memory, memory_mask)
            new_log_probs, new_tokens = self._best_tokens(hidden_states, real)
            tokens = torch.where(is_masked, new_tokens, tokens)
            token_log_probs = torch.where(is_masked, new_log_probs.to(token_log_probs.dtype), token_log_probs)
            if iteration == num_iterations - 1:
                break
            num_to_mask = (lengths.float() * (1.0 - (iteration + 1) / num_iterations)).floor().long()
            # Rank positions by probability (padding last) and re-mask the num_to_mask least confident.
            ranks = token_log_probs.masked_fill(~real, float("inf")).argsort(-1).argsort(-1)
            is_masked = ranks < num_to_mask.unsqueeze(-1)
            tokens = tokens.masked_fill(is_masked, self.config.mask_token_id)
        return tokens, token_log_probs

    def _best_tokens(
        self, hidden_states: torch.Tensor, real: torch.Tensor, chunk_size: int = 256
    ) -> tuple[torch.Tensor, torch.LongTensor]:
        """Log-probability and id of the most likely token at each real position; 0 and `<pad>` elsewhere.

        Equal (up to rounding) to `output_logits(hidden_states).float().log_softmax(-1).max(-1)` at the real
        positions, but never holds batch x length x vocabulary logits: mask-predict needs one token per position,
        and full logits of a 64-sentence batch are hundreds of MB per copy. Padding positions are skipped and the
        rest projected a chunk at a time, so each copy stays small. A chunk of at most `VOCABULARY_MAJOR_MAX_ROWS`
        positions (a batch-1 pass) is projected vocabulary-major (`output_logits`), faster there and slower on
        full chunks on the CPUs measured.
        """
        log_probs = torch.zeros(real.shape, dtype=torch.float32, device=hidden_states.device)
        tokens = torch.full(real.shape, self.config.pad_token_id, dtype=torch.long, device=hidden_states.device)
        values, indices = [], []
        for chunk in hidden_states[real].split(chunk_size):
            logits = self.output_logits(chunk, vocabulary_major=len(chunk) <= VOCABULARY_MAJOR_MAX_ROWS).float()
            best = logits.max(-1)  # log p of the best token = its logit - logsumexp: no full log-softmax copy
            values.append(best.values - logits.logsumexp(-1))
            indices.append(best.indices)
        log_probs[real] = torch.cat(values)
        tokens[real] = torch.cat(indices)
        return log_probs, tokens

    def _finalise(self, tokens: torch.LongTensor, lengths: torch.LongTensor) -> torch.LongTensor:
        """Lay out `[y_1 .. y_L, </s>, <pad> ...]` so tokenizer.batch_decode(skip_special_tokens=True) just works."""
        width = int(lengths.max()) + 1
        positions = torch.arange(width, device=tokens.device)
        padded = torch.full((tokens.shape[0], width), self.config.pad_token_id, device=tokens.device)
        copy_width = min(width, tokens.shape[1])
        padded[:, :copy_width] = tokens[:, :copy_width]
        padded = padded.masked_fill(positions >= lengths.unsqueeze(-1), self.config.pad_token_id)
        eos = self.config.eos_token_id if self.config.eos_token_id is not None else self.config.pad_token_id
        return padded.masked_fill(positions == lengths.unsqueeze(-1), eos)


__all__ = [
    "CMLMForConditionalGeneration",
    "CMLMModel",
    "CMLMPreTrainedModel",
    "CMLMOutput",
    "CMLMGenerateOutput",
    "masked_token_loss",
]
