"""`pipeline("nat-translation")`: parallel decoding behind the interface users know from transformers.

transformers 5 removed the `translation` task (and it cannot be re-registered under that name), so engine_hf
registers its own task; the output keeps the familiar `[{"translation_text": ...}]` shape.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoModelForSeq2SeqLM, Pipeline, PreTrainedModel
from transformers.pipelines import PIPELINE_REGISTRY

from .inference import source_limit, tokenize_sources

TASK = "nat-translation"


class NATTranslationPipeline(Pipeline):
    """Translate with a CMLM: length beam + mask-predict, every target position decoded in parallel.

    Call-time settings: `num_iterations`, `length_beam` (defaults come from the model's generation config), and
    `rescoring_model`: a teacher (loaded model) that picks each output among the length candidates.
    Sources longer than the model's `max_source_positions` are truncated with a warning; an empty source gives
    an empty translation.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def _sanitize_parameters(
        self,
        num_iterations: int | None = None,
        length_beam: int | None = None,
        rescoring_model: PreTrainedModel | None = None,
        **kwargs,
    ):
        if kwargs:
            raise ValueError(
                f"Unknown nat-translation setting(s) {sorted(kwargs)}: use num_iterations, length_beam, "
                "rescoring_model or batch_size."
            )
        settings = {"num_iterations": num_iterations, "length_beam": length_beam, "rescoring_model": rescoring_model}
        return {}, {name: value for name, value in settings.items() if value is not None}, {}

    def preprocess(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise TypeError(f"nat-translation takes strings, got {type(text).__name__}.")
        return tokenize_sources(self.tokenizer, [text], source_limit(self.model))

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        return {"output_ids": self.model.generate(**model_inputs, **generate_kwargs)}

    def __call__(self, inputs: str | list[str], **kwargs: Any) -> list[dict[str, str]]:
        """Translate one string or a list; always returns a list of `{"translation_text": ...}`."""
        result = super().__call__(inputs, **kwargs)
        return [result] if isinstance(inputs, str) else result

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, str]:
        (text,) = self.tokenizer.batch_decode(model_outputs["output_ids"], skip_special_tokens=True)
        return {"translation_text": text}


def register_pipeline() -> None:
    PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=NATTranslationPipeline, pt_model=AutoModelForSeq2SeqLM)


__all__ = ["TASK", "NATTranslationPipeline", "register_pipeline"]
