"""The model card (README.md) of a trained student: hub metadata plus what a reader needs to use and judge it.

Why a card of our own: transformers' generic card says nothing about what matters for a non-autoregressive
student: which teacher defines its energy, which ENGINE operators trained it, its repetition rate, and that it
needs `trust_remote_code=True` (or `import engine_hf`). The YAML front matter is produced by huggingface_hub's
`ModelCardData` (and the body rendered by `ModelCard.from_template`), so the metadata stays in the format the hub
validates.

`Trainer.push_to_hub` overwrites `output_dir/README.md` with transformers' card just before uploading (it calls
`create_model_card`); `ModelCardMixin` replaces that step so the pushed card is this one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import PreTrainedModel

ENGINE_TAGS = ["engine", "non-autoregressive", "translation", "cmlm", "mask-predict"]

CITATION = """\
@inproceedings{tu-etal-2020-engine,
    title = "{ENGINE}: Energy-Based Inference Networks for Non-Autoregressive Machine Translation",
    author = "Tu, Lifu and Pang, Richard Yuanzhe and Wiseman, Sam and Gimpel, Kevin",
    booktitle = "Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics",
    year = "2020",
    pages = "2819--2826",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2020.acl-main.251",
    doi = "10.18653/v1/2020.acl-main.251",
}"""

# training_summary keys, in display order, with their labels; unknown keys are shown under their own name.
TRAINING_FIELDS = {
    "objective": "Objective",
    "data": "Training data",
    "steps": "Optimizer steps",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size (sentences per step)",
    "o1": "Operator O1 (teacher decoder input)",
    "o2": "Operator O2 (scored against the teacher)",
    "gumbel_tau": "Gumbel temperature",
    "energy_length": "Target length during energy training",
    "ce_weight": "Cross-entropy weight (0 = pure energy)",
    "length_loss_weight": "Length-loss weight",
    "initialised_from": "Initialised from",
}
TRAINING_ALIASES = {"lr": "learning_rate", "max_steps": "steps", "corpus": "data"}

# metrics keys (after dropping an eval_/test_/predict_ prefix), in display order: (label, format).
METRIC_ROWS = {
    "bleu": ("BLEU (sacreBLEU, detokenised)", "{:.2f}"),
    "chrf": ("chrF", "{:.2f}"),
    "repetition": ("Repetition rate (tokens equal to the previous one) ↓", "{:.4f}"),
    "teacher_energy": ("Teacher energy (mean −log p per token) ↓", "{:.3f}"),
    "length_ratio": ("Length ratio (output / reference)", "{:.3f}"),
    "num_iterations": ("Mask-predict iterations", "{:g}"),
    "length_beam": ("Length beam", "{:g}"),
    "sentences_per_second": ("Speed (sentences / second)", "{:.1f}"),
}
METRIC_ALIASES = {"iterations": "num_iterations", "energy": "teacher_energy", "speed": "sentences_per_second"}
# Trainer bookkeeping, not properties of the model (a Trainer's samples/s includes scoring: not a decoding speed).
_SKIPPED_METRICS = {"runtime", "samples_per_second", "steps_per_second", "epoch", "step", "total_flos", "loss"}

TEMPLATE = """\
---
{{ card_data }}
---

# {{ title }}

{{ description }}

## Teacher

{{ teacher_section }}

## Training

{{ training_section }}

## Results

{{ results_section }}

## How to use

{{ usage_section }}

## Limitations

{{ limitations_section }}

## Citation

```bibtex
{{ citation }}
```
"""


def write_model_card(
    output_dir: str | Path,
    *,
    model: PreTrainedModel,
    teacher: str | None,
    training_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    languages: tuple[str, str] | None,
    datasets: list[str] | None,
    model_id: str | None = None,
    license: str = "other",  # noqa: A002 - the hub's metadata field name
) -> Path:
    """Write `output_dir/README.md` for a CMLM student and return its path.

    Args:
        model: the student (its config and generation defaults are described).
        teacher: hub id or path of the autoregressive teacher whose energy trained the student (None: no teacher).
        training_summary: e.g. `{"objective": "ENGINE", "data": "...", "steps": 2000, "learning_rate": 5e-5,
            "o1": "sx", "o2": "st", "energy_length": "oracle", "ce_weight": 0.0}`; see `TRAINING_FIELDS`
            (`lr`, `max_steps`, `corpus` are accepted too). `summary_from_trainer` fills most of it.
        metrics: flat `{"bleu": ..., "chrf": ..., "repetition": ..., "teacher_energy": ..., ...}` (prefixes like
            `eval_` are dropped), or `{column: {metric: value}}` to compare systems/splits side by side.
        languages: (source, target) ISO codes, or None.
        datasets: hub dataset ids of the training data, or None.
        model_id: the repo id (or folder) shown in the usage snippets; a placeholder when None.
        license: hub licence id. Default "other": the weights derive from the teacher and the corpus, whose
            licences decide it; pass the right one.
    """
    columns = _metric_columns(metrics)
    energy_trained = _is_energy_trained(training_summary)
    flat = len(columns) == 1 and next(iter(columns)) == "value"
    name = model_id.split("/")[-1] if model_id else "engine-cmlm"
    eval_results = _eval_results(columns["value"], languages, datasets) if flat and datasets else None
    card_data = ModelCardData(
        language=list(languages) if languages else None,
        license=license,
        library_name="transformers",
        pipeline_tag="translation",
        tags=list(ENGINE_TAGS),
        datasets=list(datasets) if datasets else None,
        base_model=teacher if teacher and _looks_like_hub_id(teacher) else None,
        metrics=[key for key in ("bleu", "chrf") if any(key in column for column in columns.values())] or None,
        model_name=name if eval_results else None,
        eval_results=eval_results,
    )
    card = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        title=f"{name}: {'ENGINE' if energy_trained else 'CMLM'} non-autoregressive translation"
        + (f" ({languages[0]}→{languages[1]})" if languages else ""),
        description=_description(model, energy_trained),
        teacher_section=_teacher_section(teacher, energy_trained),
        training_section=_training_section(training_summary),
        results_section=_results_section(columns, model),
        usage_section=_usage_section(model_id or "<repo id or folder>"),
        limitations_section=_limitations_section(model, training_summary),
        citation=CITATION,
    )
    path = Path(output_dir) / "README.md"
    card.save(path)
    return path


class ModelCardMixin:
    """Trainer mixin: `create_model_card` (called by `Trainer.push_to_hub`) writes the ENGINE card.

    Use `class MyTrainer(ModelCardMixin, Seq2SeqTrainer)` and set `trainer.model_card_kwargs = {"teacher": ...,
    "languages": (...), "datasets": [...], "training_summary": {"data": ...}, "license": ...}` (any
    `write_model_card` keyword). Steps, learning rate, operators and the latest evaluation metrics are read from
    the trainer itself (`summary_from_trainer`); given `training_summary`/`metrics` entries take precedence.
    """

    model_card_kwargs: dict[str, Any] | None = None

    def create_model_card(self, license: str | None = None, dataset: Any = None, **_: Any) -> None:  # noqa: A002
        """Write the ENGINE card into output_dir; `Trainer.push_to_hub(license=..., dataset=...)` values apply."""
        if not self.is_world_process_zero():  # type: ignore[attr-defined]
            return
        kwargs = dict(self.model_card_kwargs or {})
        summary, metrics = summary_from_trainer(self)
        summary.update(kwargs.pop("training_summary", None) or {})
        metrics.update(kwargs.pop("metrics", None) or {})
        if license is not None:
            kwargs["license"] = license
        if dataset is not None and "datasets" not in kwargs:
            kwargs["datasets"] = [dataset] if isinstance(dataset, str) else list(dataset)
        kwargs.setdefault("teacher", getattr(self.args, "teacher_model", None))  # type: ignore[attr-defined]
        kwargs.setdefault("languages", None)
        kwargs.setdefault("datasets", None)
        kwargs.setdefault("model_id", getattr(self, "hub_model_id", None) or self.args.hub_model_id)  # type: ignore[attr-defined]
        write_model_card(
            self.args.output_dir,  # type: ignore[attr-defined]
            model=self.accelerator.unwrap_model(self.model),  # type: ignore[attr-defined]
            training_summary=summary,
            metrics=metrics,
            **kwargs,
        )


def summary_from_trainer(trainer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training_summary, metrics) as far as a Trainer knows them: its arguments, step count and last evaluation.

    For an energy-trained student the evaluation loss is the teacher's discrete energy (EnergyTrainer), so it
    is reported as `teacher_energy`.
    """
    args = trainer.args
    summary: dict[str, Any] = {
        "objective": "ENGINE: minimise the teacher's energy" if hasattr(args, "o1") else "CMLM cross-entropy",
        "steps": trainer.state.global_step,
        "learning_rate": args.learning_rate,
        "batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
    }
    for key in ("o1", "o2", "gumbel_tau", "energy_length", "ce_weight", "length_loss_weight"):
        if hasattr(args, key):
            summary[key] = getattr(args, key)
    evaluations = [entry for entry in trainer.state.log_history if any(key.startswith("eval_") for key in entry)]
    metrics = {key: value for key, value in evaluations[-1].items() if key.startswith("eval_")} if evaluations else {}
    if hasattr(args, "o1") and "eval_loss" in metrics:
        metrics["teacher_energy"] = metrics.pop("eval_loss")
    return summary, metrics


# ---- sections -----------------------------------------------------------------------------------------------
def _is_energy_trained(summary: Mapping[str, Any]) -> bool:
    return "o1" in summary or "engine" in str(summary.get("objective", "")).lower()


def _looks_like_hub_id(name: str) -> bool:
    """A hub repo id (not a local folder): only such ids are valid `base_model` metadata."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", name) is not None and not Path(name).exists()


def _description(model: PreTrainedModel, energy_trained: bool) -> str:
    config = model.config
    architecture = (
        f"a CMLM (conditional masked language model, \"Mask-Predict\", Ghazvininejad et al., 2019): "
        f"{config.encoder_layers} encoder and {config.decoder_layers} decoder layers, d_model {config.d_model}, "
        f"{model.num_parameters():,} parameters, a {config.vocab_size}-token vocabulary, targets up to "
        f"{config.max_target_positions} tokens. It predicts the target length, then fills every position in "
        "parallel and refines the least confident tokens for a fixed number of iterations."
    )
    if energy_trained:
        return (
            f"A non-autoregressive translation model: {architecture}\n\n"
            "It is trained with **ENGINE** (ENerGy-based Inference NEtworks, Tu, Pang, Wiseman & Gimpel, ACL 2020): "
            "the CMLM is an *inference network* trained to minimise the energy (the negative log-likelihood) that a "
            "frozen, pretrained autoregressive teacher assigns to its outputs, instead of (or after) training on "
            "the teacher's distilled translations."
        )
    return (
        f"A non-autoregressive translation model: {architecture}\n\n"
        "This checkpoint is trained with the CMLM cross-entropy on masked target tokens: the baseline that ENGINE "
        "(Tu, Pang, Wiseman & Gimpel, ACL 2020) fine-tunes by minimising an autoregressive teacher's energy."
    )


def _teacher_section(teacher: str | None, energy_trained: bool) -> str:
    if teacher is None:
        return "None: this model was trained without a teacher."
    role = (
        "Its energy (−log p of the student's relaxed outputs) is the training loss; the teacher stays frozen."
        if energy_trained
        else "It provided the vocabulary, the initial weights and/or the distilled training targets."
    )
    return (
        f"`{teacher}`, an autoregressive translation model. {role} The student shares the teacher's tokenizer "
        "and vocabulary (plus a `<mask>` token)."
    )


def _training_section(summary: Mapping[str, Any]) -> str:
    summary = {TRAINING_ALIASES.get(key, key): value for key, value in summary.items()}
    rows = [(TRAINING_FIELDS.get(key, key), summary[key]) for key in TRAINING_FIELDS if summary.get(key) is not None]
    rows += [(key, value) for key, value in summary.items() if key not in TRAINING_FIELDS and value is not None]
    if not rows:
        return "Not recorded."
    lines = ["| Setting | Value |", "|---|---|"]
    lines += [f"| {label} | {_cell(value)} |" for label, value in rows]
    return "\n".join(lines) + (
        "\n\nOperators (ENGINE, Sec. 3): `sx` softmax, `stl` straight-through logits, `sg` straight-through Gumbel, "
        "`st` straight-through, `gx` Gumbel softmax."
        if "o1" in summary
        else ""
    )


def _metric_columns(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Normalise metrics to {column: {metric: value}}: one column "value" when metrics are flat."""
    nested = bool(metrics) and all(isinstance(value, Mapping) for value in metrics.values())
    raw = {str(column): values for column, values in metrics.items()} if nested else {"value": metrics}
    columns: dict[str, dict[str, float]] = {}
    for column, values in raw.items():
        clean: dict[str, float] = {}
        for key, value in values.items():
            key = re.sub(r"^(eval|test|predict|validation)_", "", str(key).lower())
            key = METRIC_ALIASES.get(key, key)
            if key in _SKIPPED_METRICS or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            clean[key] = float(value)
        columns[column] = clean
    return columns


def _results_section(columns: dict[str, dict[str, float]], model: PreTrainedModel) -> str:
    keys = [key for key in METRIC_ROWS if any(key in column for column in columns.values())]
    keys += sorted({key for column in columns.values() for key in column} - set(METRIC_ROWS))
    generation = model.generation_config
    defaults = (
        f"Decoding defaults (generation_config.json): `num_iterations={getattr(generation, 'num_iterations', None)}`, "
        f"`length_beam={getattr(generation, 'length_beam', None)}`."
    )
    if not keys:
        return "No evaluation results were recorded.\n\n" + defaults
    header = ["Metric", *(("Score",) if list(columns) == ["value"] else columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        label, fmt = METRIC_ROWS.get(key, (key, "{:.4g}"))
        cells = [fmt.format(column[key]) if key in column and math.isfinite(column[key]) else "–" for column in columns.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + defaults


def _eval_results(
    metrics: dict[str, float], languages: tuple[str, str] | None, datasets: list[str]
) -> list[EvalResult] | None:
    """BLEU/chrF as hub `model-index` entries (shown on the model page)."""
    pair = f" {languages[0]}-{languages[1]}" if languages else ""
    results = [
        EvalResult(
            task_type="translation",
            dataset_type=datasets[0],
            dataset_name=datasets[0] + pair,
            metric_type=key,
            metric_value=round(metrics[key], 2),
            metric_name="BLEU" if key == "bleu" else "chrF",
        )
        for key in ("bleu", "chrf")
        if key in metrics and math.isfinite(metrics[key])
    ]
    return results or None


def _usage_section(model_id: str) -> str:
    return f"""\
With the `engine_hf` package (registers the `cmlm` model type and the `nat-translation` task):

```python
import engine_hf  # noqa: F401
from transformers import pipeline

translate = pipeline("nat-translation", model="{model_id}")
translate("A sentence to translate.", num_iterations=10, length_beam=5)  # [{{"translation_text": ...}}]
```

Without it, the modeling code shipped in this repository is used (`trust_remote_code=True`; read it first):

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model_id}", trust_remote_code=True)  # config.json is custom
model = AutoModelForSeq2SeqLM.from_pretrained("{model_id}", trust_remote_code=True).eval()
batch = tokenizer(["A sentence to translate."], return_tensors="pt", padding=True)
output_ids = model.generate(batch["input_ids"], batch["attention_mask"], num_iterations=10, length_beam=5)
print(tokenizer.batch_decode(output_ids, skip_special_tokens=True))
```

`generate()` is length beam + mask-predict: `length_beam` target lengths are decoded in parallel, each refined for
`num_iterations` passes; there is no left-to-right beam search (`num_beams` must stay 1). With the teacher at hand
(same vocabulary, eval mode), `generate(..., rescoring_model=teacher)` (or the pipeline's `rescoring_model=`)
outputs the length candidate the teacher scores best, in one teacher-forced pass: better translations, slower."""


def _limitations_section(model: PreTrainedModel, summary: Mapping[str, Any]) -> str:
    config = model.config
    lines = [
        "- Non-autoregressive outputs are usually somewhat worse than the autoregressive teacher's, and fail "
        "characteristically: repeated tokens and dropped words. Watch the repetition rate, not only BLEU.",
        "- An energy-trained student can lower the teacher's energy with degenerate outputs (\"energy hacking\"); "
        "a low teacher energy alone does not mean good translations.",
        f"- Sources are truncated to {config.max_source_positions} tokens and outputs are at most "
        f"{config.max_target_positions} tokens (the length predictor's range).",
        "- The model inherits the teacher's and the training data's domain and biases"
        + (f" (trained on: {summary['data']})" if summary.get("data") else "")
        + "; scores on other domains can be much lower.",
        "- Scores are detokenised sacreBLEU/chrF on the evaluation data named above; they are not comparable with "
        "numbers computed on other data or with other tokenisation (e.g. the paper's).",
        "- The licence of the weights follows from the teacher's and the training data's licences.",
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


__all__ = ["CITATION", "ENGINE_TAGS", "ModelCardMixin", "summary_from_trainer", "write_model_card"]
