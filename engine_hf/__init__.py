"""engine_hf: ENGINE energy-trained non-autoregressive translation on Hugging Face libraries.

Importing the package registers the `cmlm` and `bergamot` model types with the Auto classes and the
`nat-translation` pipeline task, so
`AutoModelForSeq2SeqLM.from_pretrained(path)` resolves a saved student, and marks the CMLM classes for remote-code
export, so every `save_pretrained` folder also loads with `trust_remote_code=True` where engine_hf is absent.
"""

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from .configuration_bergamot import BergamotConfig
from .configuration_cmlm import CMLMConfig
from .data_collator import DataCollatorForCMLM
from .descent import minimize_energy
from .energy import EnergyOutput, discrete_energy, energy
from .metrics import build_compute_metrics, corpus_scores, paired_bootstrap, repetition_rate
from .modeling_bergamot import BergamotForConditionalGeneration, register_bergamot
from .modeling_cmlm import CMLMForConditionalGeneration, CMLMGenerateOutput, CMLMModel, CMLMOutput
from .operators import OPERATORS, get_operator
from .pipeline import NATTranslationPipeline, register_pipeline
from .teacher import check_teacher_compatible, load_teacher, teacher_energy_of_outputs
from .trainer import EnergyTrainer, EnergyTrainingArguments

__version__ = "0.1.0"


def _register_auto_classes() -> None:
    AutoConfig.register("cmlm", CMLMConfig, exist_ok=True)
    AutoModel.register(CMLMConfig, CMLMModel, exist_ok=True)
    AutoModelForSeq2SeqLM.register(CMLMConfig, CMLMForConditionalGeneration, exist_ok=True)
    CMLMConfig.register_for_auto_class()
    CMLMForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    register_bergamot()
    register_pipeline()


_register_auto_classes()

__all__ = [
    "OPERATORS",
    "BergamotConfig",
    "BergamotForConditionalGeneration",
    "NATTranslationPipeline",
    "CMLMConfig",
    "CMLMForConditionalGeneration",
    "CMLMGenerateOutput",
    "CMLMModel",
    "CMLMOutput",
    "DataCollatorForCMLM",
    "EnergyOutput",
    "EnergyTrainer",
    "EnergyTrainingArguments",
    "__version__",
    "build_compute_metrics",
    "check_teacher_compatible",
    "corpus_scores",
    "discrete_energy",
    "energy",
    "get_operator",
    "load_teacher",
    "minimize_energy",
    "paired_bootstrap",
    "repetition_rate",
    "teacher_energy_of_outputs",
]
