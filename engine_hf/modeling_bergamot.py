"""PyTorch port of the Firefox Translations (Bergamot) "tiny" student models: Marian's transformer encoder with
an SSRU decoder, as a transformers `PreTrainedModel` + `GenerationMixin`, usable as a frozen ENGINE teacher.

The file reads bottom-up like the architecture section of a paper (and like transformers' `modeling_marian.py`):
positions -> attention -> encoder layer -> SSRU -> decoder layer -> pre-trained base -> encoder / decoder ->
model -> model with the language-modelling head.

Conventions the energy code relies on (all pinned by tests/test_bergamot.py):

* token embeddings are multiplied by sqrt(d_model) *inside* the model, for token ids and for `inputs_embeds` /
  `decoder_inputs_embeds` alike, so `one_hot @ get_input_embeddings().weight` fed as `decoder_inputs_embeds`
  gives exactly the logits of the ids (Marian 5.x does the same on its decoder; here the encoder follows suit);
* decoder position 0 is always the all-zero start embedding (Marian's convention): whatever token or embedding a
  non-incremental pass holds at position 0 is replaced by zeros before scaling and positions are applied;
* id 0 (`</s>`) is eos, pad (under an attention mask) and `decoder_start_token_id`;
* the logits include the trained output bias (Marian `decoder_ff_logit_out_b`, here `lm_head.bias`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoModelForSeq2SeqLM, GenerationMixin, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import can_return_tuple

from .configuration_bergamot import BergamotConfig


def shift_tokens_right(
    input_ids: torch.Tensor, pad_token_id: int, decoder_start_token_id: int
) -> torch.Tensor:
    """Shift labels one step to the right behind `decoder_start_token_id`, as BART/Marian do.

    `-100` (ignored label positions) become `pad_token_id`, so the shifted ids are valid embedding indices.
    """
    shifted = input_ids.new_zeros(input_ids.shape)
    shifted[:, 1:] = input_ids[:, :-1].clone()
    shifted[:, 0] = decoder_start_token_id
    shifted.masked_fill_(shifted == -100, pad_token_id)
    return shifted


def sinusoidal_position_table(num_positions: int, dim: int) -> torch.Tensor:
    """Marian's fixed position encodings: row p = [sin(p * freq) | cos(p * freq)].

    With half = dim / 2, freq_i = exp(-i * ln(10000) / (half - 1)) for i = 0..half-1 (Marian divides by
    half - 1, not by half as the Transformer paper does; a port that uses the paper's formula is off by a
    little at every position). Computed in float64 and rounded once.
    """
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000.0) / (half - 1)))
    angles = torch.arange(num_positions, dtype=torch.float64)[:, None] * freq[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1).float()


class BergamotSinusoidalPositionalEmbedding(nn.Embedding):
    """Fixed (non-trainable) table of `sinusoidal_position_table`, indexed by absolute position.

    An `nn.Embedding` so that the table sits at `embed_positions.weight` like Marian's, is moved with the model
    and is rebuilt by `_init_weights` rather than saved.
    """

    def __init__(self, num_positions: int, embedding_dim: int) -> None:
        super().__init__(num_positions, embedding_dim, _freeze=True)

    def create_weight(self) -> torch.Tensor:
        return sinusoidal_position_table(self.num_embeddings, self.embedding_dim)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(position_ids)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax(QK^T * scaling + mask) V; the reference the other `ALL_ATTENTION_FUNCTIONS` reproduce."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class BergamotAttention(nn.Module):
    """Multi-head attention (Marian `self`/`context` blocks), BART parameter names `{q,k,v,out}_proj`.

    Never causal: the encoder is bidirectional and the decoder only uses it for cross-attention (its
    autoregressive part is the SSRU). `is_causal = False` matters: sdpa assumes causal when a module lacks it.
    As cross-attention, the keys/values of the encoder states are computed once per generation and then read
    back from the cross-attention half of an `EncoderDecoderCache`.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        config: BergamotConfig,
        dropout: float = 0.0,
        layer_idx: int | None = None,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.config = config
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.layer_idx = layer_idx

        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention when `key_value_states` is None, cross-attention over it otherwise."""
        input_shape = hidden_states.shape[:-1]
        query_states = self.q_proj(hidden_states).view(*input_shape, -1, self.head_dim).transpose(1, 2)

        is_cross_attention = key_value_states is not None
        cross_cache = None
        if is_cross_attention and isinstance(cache, EncoderDecoderCache):
            cross_cache = cache
        if cross_cache is not None and cross_cache.is_updated.get(self.layer_idx):
            layer = cross_cache.cross_attention_cache.layers[self.layer_idx]
            key_states, value_states = layer.keys, layer.values
        else:
            current_states = key_value_states if is_cross_attention else hidden_states
            kv_shape = (*current_states.shape[:-1], -1, self.head_dim)
            key_states = self.k_proj(current_states).view(kv_shape).transpose(1, 2)
            value_states = self.v_proj(current_states).view(kv_shape).transpose(1, 2)
            if cross_cache is not None:
                key_states, value_states = cross_cache.cross_attention_cache.update(
                    key_states, value_states, self.layer_idx
                )
                cross_cache.is_updated[self.layer_idx] = True

        attention_interface: Callable = eager_attention_forward
        if self.config._attn_implementation not in (None, "eager"):
            attention_interface = ALL_ATTENTION_FUNCTIONS[self.config._attn_implementation]
        attn_output, attn_weights = attention_interface(
            self,
            query_states,
            key_states,
            value_states,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        attn_output = self.out_proj(attn_output.reshape(*input_shape, -1).contiguous())
        return attn_output, attn_weights


class BergamotEncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer, Marian `dan` (dropout, add, norm) after each block.

    Parameter names follow BART/Marian (`self_attn.*`, `self_attn_layer_norm`, `fc1`, `fc2`,
    `final_layer_norm`) so a student encoder can be initialised from this one by `load_state_dict`.
    """

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__()
        self.embed_dim = config.d_model
        self.self_attn = BergamotAttention(
            self.embed_dim, config.encoder_attention_heads, config=config, dropout=config.attention_dropout
        )
        self.self_attn_layer_norm = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.dropout = config.dropout
        self.activation_fn = ACT2FN[config.activation_function]
        self.activation_dropout = config.activation_dropout
        self.fc1 = nn.Linear(self.embed_dim, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, self.embed_dim)
        self.final_layer_norm = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        residual = hidden_states
        hidden_states, attn_weights = self.self_attn(hidden_states, attention_mask=attention_mask, **kwargs)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.self_attn_layer_norm(residual + hidden_states)

        residual = hidden_states
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        hidden_states = self.fc2(hidden_states)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.final_layer_norm(residual + hidden_states)
        return hidden_states, attn_weights


def ssru_step(inputs: torch.Tensor, gate_logits: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """One SSRU time step: c_t = f_t * c_{t-1} + (1 - f_t) * (x_t W), with f_t = sigmoid(x_t Wf + bf).

    `inputs` is x_t W and `gate_logits` is x_t Wf + bf, both (batch, d); `cell` is c_{t-1}. Returns c_t.
    """
    forget = torch.sigmoid(gate_logits)
    return forget * cell + (1.0 - forget) * inputs


def ssru_scan(
    inputs: torch.Tensor, gate_logits: torch.Tensor, initial_cell: torch.Tensor | None = None
) -> torch.Tensor:
    """All SSRU cell states c_1..c_T of a teacher-forced sequence at once, without a loop over time.

    The recurrence is linear in c. With L_t = sum_{r<=t} log f_r it unrolls to

        c_t = exp(L_t) c_0 + sum_{s<=t} exp(L_t - L_s) (1 - f_s) u_s,        u_s = x_s W,

    a cumulative sum once exp(L_t) is factored out. exp(-L_s) overflows after a few dozen tokens (L falls by
    up to several units per token), so the sum is taken in log space with `logcumsumexp`. Logs need positive
    terms: u_s is shifted by a constant m > max|u| (per sequence and channel, detached), which is exact
    because the weights exp(L_t - L_s)(1 - f_s) sum to 1 - exp(L_t):

        c_t = exp(logcumsumexp_s[log(1 - f_s) + log(u_s + m) - L_s] + L_t) - m (1 - exp(L_t)) + exp(L_t) c_0.

    Everything is differentiable (the ENGINE energy back-propagates through the teacher into soft inputs).
    The scan runs in float64, where the O(|L|) magnitudes inside the exponent lose nothing; it costs
    (batch, T, d) element-wise work, negligible next to the output layer.

    Args:
        inputs: x W, shape (batch, T, d).
        gate_logits: x Wf + bf, shape (batch, T, d).
        initial_cell: c_0, shape (batch, d); zeros when None (the start of a sentence).

    Returns:
        c_1..c_T, shape (batch, T, d), in the dtype of `inputs`.
    """
    out_dtype = inputs.dtype
    work_dtype = torch.float32 if inputs.device.type == "mps" else torch.float64
    inputs = inputs.to(work_dtype)
    gate_logits = gate_logits.to(work_dtype)
    log_forget = F.logsigmoid(gate_logits)
    log_keep_input = F.logsigmoid(-gate_logits)  # log(1 - f), stable for large gate logits
    log_decay = log_forget.cumsum(dim=1)  # L_t
    shift = inputs.detach().abs().amax(dim=1, keepdim=True) + 1.0
    log_terms = log_keep_input + torch.log(inputs + shift) - log_decay
    decay = log_decay.exp()
    cells = (torch.logcumsumexp(log_terms, dim=1) + log_decay).exp() - shift * (1.0 - decay)
    if initial_cell is not None:
        cells = cells + decay * initial_cell.to(work_dtype).unsqueeze(1)
    return cells.to(out_dtype)


class BergamotSSRU(nn.Module):
    """Simpler Simple Recurrent Unit (Kim et al., 2019), Marian `rnn_*`: the decoder's autoregressive block.

    h_t = relu(c_t), c_t = f_t * c_{t-1} + (1 - f_t) * (x_t W), f_t = sigmoid(x_t Wf + bf).

    A teacher-forced pass computes every c_t in parallel (`ssru_scan`). During incremental decoding the state is
    kept in the self-attention half of the `EncoderDecoderCache` (see `BergamotDecoder` for why), and a
    one-token step continues from the last cached cell state (`ssru_step`).
    """

    def __init__(self, config: BergamotConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.input_proj = nn.Linear(config.d_model, config.d_model, bias=False)  # Marian rnn_W
        self.forget_gate = nn.Linear(config.d_model, config.d_model)  # Marian rnn_Wf, rnn_bf

    def forward(self, hidden_states: torch.Tensor, state_cache: Cache | None = None) -> torch.Tensor:
        inputs = self.input_proj(hidden_states)
        gate_logits = self.forget_gate(hidden_states)
        previous = None
        if state_cache is not None and state_cache.get_seq_length(self.layer_idx) > 0:
            previous = state_cache.layers[self.layer_idx].keys[:, 0, -1, :]
        if previous is not None and hidden_states.shape[1] == 1:
            cells = ssru_step(inputs[:, 0], gate_logits[:, 0], previous.to(inputs.dtype)).unsqueeze(1)
        else:
            cells = ssru_scan(inputs, gate_logits, previous)
        if state_cache is not None:
            history = cells.unsqueeze(1)  # (batch, 1, T, d): one "head" whose "keys" are the cell states
            state_cache.update(history, history, self.layer_idx)
        return F.relu(cells)


class BergamotDecoderLayer(nn.Module):
    """Bergamot decoder layer: SSRU -> cross-attention -> FFN, each followed by dropout, residual, LayerNorm."""

    def __init__(self, config: BergamotConfig, layer_idx: int) -> None:
        super().__init__()
        self.embed_dim = config.d_model
        self.layer_idx = layer_idx
        self.ssru = BergamotSSRU(config, layer_idx)
        self.ssru_layer_norm = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.encoder_attn = BergamotAttention(
            self.embed_dim,
            config.decoder_attention_heads,
            config=config,
            dropout=config.attention_dropout,
            layer_idx=layer_idx,
        )
        self.encoder_attn_layer_norm = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.dropout = config.dropout
        self.activation_fn = ACT2FN[config.activation_function]
        self.activation_dropout = config.activation_dropout
        self.fc1 = nn.Linear(self.embed_dim, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, self.embed_dim)
        self.final_layer_norm = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        state_cache = cache.self_attention_cache if cache is not None else None
        residual = hidden_states
        hidden_states = self.ssru(hidden_states, state_cache)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.ssru_layer_norm(residual + hidden_states)

        residual = hidden_states
        hidden_states, cross_attn_weights = self.encoder_attn(
            hidden_states,
            key_value_states=encoder_hidden_states,
            cache=cache,
            attention_mask=encoder_attention_mask,
            **kwargs,
        )
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.encoder_attn_layer_norm(residual + hidden_states)

        residual = hidden_states
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        hidden_states = self.fc2(hidden_states)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.final_layer_norm(residual + hidden_states)
        return hidden_states, cross_attn_weights


class BergamotPreTrainedModel(PreTrainedModel):
    """Weights initialisation and the transformers class attributes shared by every Bergamot module."""

    config: BergamotConfig
    config_class = BergamotConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = False
    _supports_sdpa = True
    _supports_flex_attn = False
    _supports_flash_attn = False
    _no_split_modules = ["BergamotEncoderLayer", "BergamotDecoderLayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, BergamotSinusoidalPositionalEmbedding):
            module.weight.copy_(module.create_weight().to(module.weight.device, module.weight.dtype))


class BergamotEncoder(BergamotPreTrainedModel):
    """Marian transformer encoder: sqrt(d)-scaled token embeddings + sinusoidal positions, then post-norm layers.

    `inputs_embeds` are scaled by sqrt(d_model) too (Marian 5.x does not scale them on its encoder, only on its
    decoder): one convention on both sides, so `one_hot @ E` always matches the ids.
    """

    def __init__(self, config: BergamotConfig, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config)
        self.dropout = config.dropout
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = (
            embed_tokens if embed_tokens is not None else nn.Embedding(config.vocab_size, config.d_model)
        )
        self.embed_positions = BergamotSinusoidalPositionalEmbedding(
            config.max_position_embeddings, config.d_model
        )
        self.layers = nn.ModuleList([BergamotEncoderLayer(config) for _ in range(config.encoder_layers)])
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput | tuple:
        """Encode a (right- or left-)padded source batch; `attention_mask` is 1 for real tokens."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        positions = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device)
        hidden_states = inputs_embeds * self.embed_scale + self.embed_positions(positions).to(
            inputs_embeds.dtype
        )
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        attention_mask = create_bidirectional_mask(
            config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask
        )

        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, attn_weights = layer(hidden_states, attention_mask, **kwargs)
            if output_attentions:
                all_attentions += (attn_weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)

        output = BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )
        return output if return_dict else output.to_tuple()


class BergamotDecoder(BergamotPreTrainedModel):
    """Bergamot SSRU decoder with Marian's start convention and an incremental-decoding cache.

    Start embedding: Marian decodes from an all-zero target embedding at position 0, not from a token's
    embedding. The decoder therefore zeroes the embedding at absolute position 0 of every pass that starts
    there (any non-incremental pass, and the first step of an incremental one) before the sqrt(d) scaling and
    the positions are applied; `decoder_start_token_id` (0) is only a placeholder that keeps shapes aligned with
    the labels. A soft input `p @ E` at position 0 is likewise ignored (and gets no gradient).

    Cache: transformers' own `EncoderDecoderCache`, the one `generate()` creates for encoder-decoder models.
    Its cross-attention half holds each layer's encoder keys/values, computed once. Its self-attention half -
    unused as such, there is no decoder self-attention - holds each layer's SSRU cell states c_1..c_t as the
    "keys" (and "values") of one pseudo-head, shape (batch, 1, t, d_model). Keeping the whole history (t x 256
    floats per layer, less than one attention layer's cache) instead of only c_t means that:
    `get_seq_length()` counts the decoded positions, which both `generate()` and the positions here need;
    beam search reorders it through `EncoderDecoderCache.reorder_cache` (transformers 5.24 calls
    `cache.reorder_cache(beam_idx)` when the model has no `_reorder_cache`, so none is defined);
    and `crop()` (assisted decoding) rolls the state back exactly. Static/compiled caches are not supported.

    There is no decoder self-attention, so `attention_mask` (a decoder padding mask) is accepted and ignored:
    the SSRU reads left to right, so right padding never changes earlier positions.
    """

    def __init__(self, config: BergamotConfig, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config)
        self.dropout = config.dropout
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = (
            embed_tokens if embed_tokens is not None else nn.Embedding(config.vocab_size, config.d_model)
        )
        self.embed_positions = BergamotSinusoidalPositionalEmbedding(
            config.max_position_embeddings, config.d_model
        )
        self.layers = nn.ModuleList(
            [BergamotDecoderLayer(config, layer_idx=i) for i in range(config.decoder_layers)]
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPastAndCrossAttentions | tuple:
        """Decode target positions past_length..past_length+T-1 given the encoder states."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of decoder input_ids or decoder inputs_embeds.")
        if encoder_hidden_states is None:
            raise ValueError("The Bergamot decoder needs encoder_hidden_states.")
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if not use_cache:
            cache = None
        elif cache is None:
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        elif not isinstance(cache, EncoderDecoderCache):
            raise TypeError(f"Bergamot needs an EncoderDecoderCache, got {type(cache).__name__}.")

        past_length = cache.get_seq_length() if cache is not None else 0
        seq_length = inputs_embeds.shape[1]
        if past_length == 0 and seq_length > 0:
            start = torch.zeros_like(inputs_embeds[:, :1])
            inputs_embeds = torch.cat([start, inputs_embeds[:, 1:]], dim=1)
        positions = torch.arange(past_length, past_length + seq_length, device=inputs_embeds.device)
        hidden_states = inputs_embeds * self.embed_scale + self.embed_positions(positions).to(
            inputs_embeds.dtype
        )
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        encoder_attention_mask = create_bidirectional_mask(
            config=self.config,
            inputs_embeds=hidden_states,
            attention_mask=encoder_attention_mask,
            encoder_hidden_states=encoder_hidden_states,
        )

        all_hidden_states = () if output_hidden_states else None
        all_cross_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, cross_attn_weights = layer(
                hidden_states,
                encoder_hidden_states,
                encoder_attention_mask=encoder_attention_mask,
                cache=cache,
                **kwargs,
            )
            if output_attentions:
                all_cross_attentions += (cross_attn_weights,)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)

        output = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            cache=cache,
            hidden_states=all_hidden_states,
            cross_attentions=all_cross_attentions,
        )
        return output if return_dict else output.to_tuple()


class BergamotModel(BergamotPreTrainedModel):
    """Encoder + decoder around one shared embedding matrix (Marian `Wemb`, `tied-embeddings-all`)."""

    _tied_weights_keys = {
        "encoder.embed_tokens.weight": "shared.weight",
        "decoder.embed_tokens.weight": "shared.weight",
    }

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__(config)
        # No padding_idx: id 0 is `</s>`, a real token whose embedding is trained and used.
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = BergamotEncoder(config, self.shared)
        self.decoder = BergamotDecoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.embed_tokens = value
        self.decoder.embed_tokens = value

    def get_encoder(self, modality: str | None = None) -> BergamotEncoder:
        return self.encoder

    def get_decoder(self) -> BergamotDecoder:
        return self.decoder

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutput:
        """Run the encoder (unless `encoder_outputs` are given) and the decoder; returns decoder states."""
        kwargs.pop("return_dict", None)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
                **kwargs,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            **kwargs,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            cache=decoder_outputs.cache,
            decoder_hidden_states=decoder_outputs.hidden_states,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


class BergamotForConditionalGeneration(BergamotPreTrainedModel, GenerationMixin):
    """Bergamot translation model: `BergamotModel` + the tied output projection with its trained bias.

    `generate()` (GenerationMixin) runs greedy and beam search with the SSRU states and the cross-attention
    keys/values carried step to step in an `EncoderDecoderCache` (see `BergamotDecoder`).
    """

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    _keys_to_ignore_on_save = ["model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"]
    _keys_to_ignore_on_load_missing = [
        "model.encoder.embed_positions.weight",
        "model.decoder.embed_positions.weight",
    ]
    # The loss is a per-batch mean over the labels, not a sum to be normalised by the Trainer.
    accepts_loss_kwargs = False

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__(config)
        self.model = BergamotModel(config)
        # bias = Marian `decoder_ff_logit_out_b`; the weight is tied to `model.shared.weight`.
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=True)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def get_encoder(self, modality: str | None = None) -> BergamotEncoder:
        return self.model.encoder

    def get_decoder(self) -> BergamotDecoder:
        return self.model.decoder

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        """Logits over the vocabulary for each decoder position; mean cross-entropy when `labels` are given.

        With `labels` (-100 = ignored) and no decoder inputs, the decoder inputs are the labels shifted right
        behind `decoder_start_token_id`, and position 0 is the zero start embedding anyway.
        """
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(
                    labels, self.config.pad_token_id, self.config.decoder_start_token_id
                )
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            cache=cache,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            **kwargs,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits.view(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100
            )
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


def register_bergamot() -> None:
    """Make `AutoConfig` / `AutoModelForSeq2SeqLM` resolve `model_type="bergamot"`; safe to call repeatedly."""
    AutoConfig.register("bergamot", BergamotConfig, exist_ok=True)
    AutoModelForSeq2SeqLM.register(BergamotConfig, BergamotForConditionalGeneration, exist_ok=True)


__all__ = [
    "BergamotEncoder",
    "BergamotDecoder",
    "BergamotForConditionalGeneration",
    "BergamotModel",
    "BergamotPreTrainedModel",
    "register_bergamot",
    "shift_tokens_right",
    "sinusoidal_position_table",
    "ssru_scan",
    "ssru_step",
]
