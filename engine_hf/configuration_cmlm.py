"""Configuration of the CMLM ("Mask-Predict") inference network that ENGINE trains."""

from __future__ import annotations

from transformers import PreTrainedConfig

LENGTH_PREDICTION_CHOICES = ("token", "mean_pool")


class CMLMConfig(PreTrainedConfig):
    r"""
    Configuration of [`CMLMForConditionalGeneration`]: a Transformer encoder plus a *non-causal* decoder that
    predicts every target token in parallel (Ghazvininejad et al., 2019), and a length classifier.

    The defaults are the paper's base size (6+6 layers, d 512, 8 heads, FFN 2048). The output distribution is
    over the *teacher's* target vocabulary (`vocab_size`) because ENGINE scores it against the teacher's
    log-probabilities position by position; build the config from the teacher with
    [`CMLMForConditionalGeneration.from_teacher`] so the two cannot drift apart.

    Args:
        vocab_size: Size of the shared source/target vocabulary = number of output classes.
        d_model: Width of every layer.
        encoder_layers / decoder_layers: Number of Transformer layers.
        encoder_attention_heads / decoder_attention_heads: Attention heads per layer.
        encoder_ffn_dim / decoder_ffn_dim: Inner width of the feed-forward blocks.
        activation_function: Feed-forward non-linearity (any key of `transformers.activations.ACT2FN`).
        dropout: Dropout on embeddings and residual branches (the CMLM baseline uses 0.3, ENGINE 0.1).
        attention_dropout: Dropout on attention probabilities.
        activation_dropout: Dropout after the feed-forward non-linearity.
        layer_norm_eps: Epsilon of every LayerNorm (1e-5 like Marian; 1e-9 to match a Bergamot teacher).
        scale_embedding: Multiply token embeddings by sqrt(d_model), as Marian and Bergamot do.
        max_source_positions: Longest source (tokens, including `</s>`) the encoder accepts.
        max_target_positions: Longest target the decoder produces; length classes are 0..max_target_positions.
        length_prediction: `"token"`: a learned `<length>` vector is prepended to the encoder input and its
            output state is classified (the reference ENGINE/Mask-Predict code). `"mean_pool"`: the encoder
            states are mean-pooled (fairseq's variant); keeps a teacher-initialised encoder exactly as it was.
        length_loss_weight: Weight of the length cross-entropy added to the token loss.
        label_smoothing: Label smoothing of the masked-token cross-entropy (the CMLM paper uses 0.1).
        mask_token_id: Id that marks a masked decoder input. It has its own learned embedding row and is never
            an output class: by default it is `vocab_size`, one past the teacher's vocabulary.
        init_std: Standard deviation of the normal initialisation of weights.
        pad_token_id / bos_token_id / eos_token_id: Special ids of the tokenizer; the decoder never emits them
            (ENGINE scores the teacher's `</s>` after the last student token instead).
        tie_word_embeddings: Share encoder embeddings, decoder embeddings and the output projection.
    """

    model_type = "cmlm"
    keys_to_ignore_at_inference = ["encoder_last_hidden_state"]
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "encoder_attention_heads"}

    vocab_size: int = 32000
    d_model: int = 512
    encoder_layers: int = 6
    decoder_layers: int = 6
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_ffn_dim: int = 2048
    decoder_ffn_dim: int = 2048
    activation_function: str = "relu"
    dropout: float = 0.3
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    scale_embedding: bool = True
    max_source_positions: int = 256
    max_target_positions: int = 256
    length_prediction: str = "token"
    length_loss_weight: float = 0.1
    label_smoothing: float = 0.0
    mask_token_id: int | None = None
    init_std: float = 0.02
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | None = 0
    tie_word_embeddings: bool = True
    is_encoder_decoder: bool = True

    def __post_init__(self, **kwargs):
        if self.length_prediction not in LENGTH_PREDICTION_CHOICES:
            raise ValueError(
                f"length_prediction={self.length_prediction!r} is not supported; "
                f"choose one of {LENGTH_PREDICTION_CHOICES}."
            )
        if self.d_model % self.encoder_attention_heads or self.d_model % self.decoder_attention_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by the number of attention heads.")
        if self.mask_token_id is None:
            self.mask_token_id = self.vocab_size
        super().__post_init__(**kwargs)

    def validate(self) -> None:
        """Validate as the base class does, except that `mask_token_id` may be `vocab_size`.

        The mask is an input-only row, deliberately outside the output vocabulary, which the base class's
        special-token check would otherwise flag as out of range.
        """
        mask_token_id, self.mask_token_id = self.mask_token_id, None
        try:
            super().validate()
        finally:
            self.mask_token_id = mask_token_id

    @property
    def never_emitted_token_ids(self) -> list[int]:
        """Ids the decoder must never output: the mask (if inside the vocabulary) and the special tokens."""
        ids = {self.mask_token_id, self.pad_token_id, self.bos_token_id, self.eos_token_id}
        return sorted(i for i in ids if i is not None and 0 <= i < self.vocab_size)


__all__ = ["CMLMConfig"]
