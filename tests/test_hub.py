"""Publishing: push_to_hub (model, tokenizer, Seq2SeqTrainer) to a loopback hub, reload without engine_hf, model card."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_cmlm_config
from datasets import Dataset
from fake_hub import FakeHub
from huggingface_hub import ModelCard
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

from engine_hf import CMLMForConditionalGeneration, DataCollatorForCMLM, build_compute_metrics
from engine_hf.model_card import ENGINE_TAGS, ModelCardMixin, summary_from_trainer, write_model_card
from engine_hf.training import tokenize_pairs

# Runs in a fresh interpreter where `import engine_hf` fails: only the files on the hub can make this work.
WITHOUT_ENGINE_HF = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "engine_hf" or name.startswith("engine_hf."):
            raise ImportError("engine_hf is deliberately unavailable")
sys.meta_path.insert(0, Block())
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
repo_id, texts = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(repo_id, trust_remote_code=True)  # config.json names a remote class
model = AutoModelForSeq2SeqLM.from_pretrained(repo_id, trust_remote_code=True).eval()
assert "engine_hf" not in sys.modules
batch = tokenizer(texts, return_tensors="pt", padding=True)
ids = model.generate(batch["input_ids"], batch["attention_mask"])
print(json.dumps({"ids": ids.tolist(), "texts": tokenizer.batch_decode(ids, skip_special_tokens=True)}))
"""


@pytest.fixture
def hub(tmp_path) -> Iterator[FakeHub]:
    with FakeHub(tmp_path / "hf-cache") as server, server.activate():
        yield server


def tiny_model(tokenizer) -> CMLMForConditionalGeneration:
    torch.manual_seed(0)
    return CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()


def test_pushed_model_and_tokenizer_load_from_the_hub_without_engine_hf(hub, tokenizer, pairs):
    model = tiny_model(tokenizer)
    model.generation_config.num_iterations = 3
    model.push_to_hub("engine-test/tiny-cmlm")
    tokenizer.push_to_hub("engine-test/tiny-cmlm")

    texts = [source for source, _ in pairs[:3]]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    expected = model.generate(batch["input_ids"], batch["attention_mask"])
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_ENGINE_HF, "engine-test/tiny-cmlm", json.dumps(texts)],
        stdin=subprocess.DEVNULL,  # a trust_remote_code prompt must fail, not wait
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["ids"] == expected.tolist()
    assert loaded["texts"] == tokenizer.batch_decode(expected, skip_special_tokens=True)
    assert {"modeling_cmlm.py", "configuration_cmlm.py", "model.safetensors"} <= set(hub.files("engine-test/tiny-cmlm"))
    assert hub.unhandled == []


def test_seq2seq_trainer_pushes_a_complete_repo_with_the_engine_card(hub, tokenizer, pairs, tmp_path):
    class CardTrainer(ModelCardMixin, Seq2SeqTrainer):
        pass

    model = tiny_model(tokenizer).train()
    rows = Dataset.from_list([{"translation": {"de": source, "en": target}} for source, target in pairs[:12]])
    features = tokenize_pairs(rows, tokenizer, "de", "en", 64, 48)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=1e-3,
        predict_with_generate=True,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        push_to_hub=True,
        hub_model_id="engine-test/trained-cmlm",
        hub_strategy="end",
    )
    trainer = CardTrainer(
        model=model,
        args=args,
        train_dataset=features,
        eval_dataset=features.select(range(4)),
        data_collator=DataCollatorForCMLM.for_model(model),
        processing_class=tokenizer,
        compute_metrics=build_compute_metrics(tokenizer),
    )
    trainer.model_card_kwargs = {
        "languages": ("de", "en"),
        "training_summary": {"data": "verse fixture (12 pairs)"},
        "license": "mit",
    }
    trainer.train()
    trainer.evaluate()
    trainer.push_to_hub()

    files = hub.files("engine-test/trained-cmlm")
    assert {
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "modeling_cmlm.py",
        "configuration_cmlm.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
    } <= set(files)
    assert json.loads(files["config.json"])["auto_map"]["AutoModelForSeq2SeqLM"].endswith(
        "CMLMForConditionalGeneration"
    )
    generation = json.loads(files["generation_config.json"])
    assert {"num_iterations", "length_beam"} <= set(generation)
    card = ModelCard(files["README.md"].decode())
    assert card.data.library_name == "transformers" and card.data.license == "mit"
    assert card.data.tags == ENGINE_TAGS and card.data.language == ["de", "en"]
    assert "# trained-cmlm: CMLM non-autoregressive translation (de→en)" in card.text
    assert "| Optimizer steps | 2 |" in card.text and "| Training data | verse fixture (12 pairs) |" in card.text
    assert "| BLEU (sacreBLEU, detokenised) |" in card.text
    assert 'pipeline("nat-translation", model="engine-test/trained-cmlm")' in card.text
    assert hub.unhandled == []


def test_model_card_metadata_and_sections(tokenizer, tmp_path):
    model = tiny_model(tokenizer)
    path = write_model_card(
        tmp_path,
        model=model,
        teacher="Helsinki-NLP/opus-mt-de-en",
        training_summary={
            "objective": "ENGINE",
            "data": "distilled verses",
            "steps": 2000,
            "learning_rate": 5e-5,
            "o1": "sx",
            "o2": "st",
            "energy_length": "oracle",
            "ce_weight": 0.0,
        },
        metrics={
            "eval_bleu": 21.456,
            "eval_chrf": 48.0,
            "eval_repetition": 0.0312,
            "teacher_energy": 1.75,
            "num_iterations": 10,
            "length_beam": 5,
            "sentences_per_second": 812.3,
            "eval_runtime": 4.2,
        },
        languages=("de", "en"),
        datasets=["bible_para"],
        model_id="someone/engine-de-en",
    )
    assert path == tmp_path / "README.md"
    card = ModelCard.load(path)
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "translation"
    assert data.tags == ENGINE_TAGS and data.language == ["de", "en"] and data.datasets == ["bible_para"]
    assert data.license == "other" and data.base_model == "Helsinki-NLP/opus-mt-de-en"
    assert [(r.metric_type, r.metric_value) for r in data.eval_results] == [("bleu", 21.46), ("chrf", 48.0)]
    text = card.text
    for heading in ("## Teacher", "## Training", "## Results", "## How to use", "## Limitations", "## Citation"):
        assert heading in text
    assert "trained with **ENGINE**" in text and "`Helsinki-NLP/opus-mt-de-en`" in text
    assert "| Operator O1 (teacher decoder input) | sx |" in text and "| Cross-entropy weight (0 = pure energy) | 0 |" in text
    assert "| BLEU (sacreBLEU, detokenised) | 21.46 |" in text and "| Repetition rate" in text
    assert "| Teacher energy (mean −log p per token) ↓ | 1.750 |" in text and "| Speed (sentences / second) | 812.3 |" in text
    assert "runtime" not in text
    assert "import engine_hf" in text and 'from_pretrained("someone/engine-de-en", trust_remote_code=True)' in text
    assert "Tu, Lifu and Pang, Richard Yuanzhe and Wiseman, Sam and Gimpel, Kevin" in text


def test_model_card_for_a_cmlm_baseline_compares_systems_side_by_side(tokenizer, tmp_path):
    model = tiny_model(tokenizer)
    write_model_card(
        tmp_path,
        model=model,
        teacher=str(tmp_path / "local-teacher"),
        training_summary={"objective": "CMLM cross-entropy", "steps": 5},
        metrics={"teacher": {"bleu": 30.0}, "CMLM": {"bleu": 20.0, "repetition": 0.1}},
        languages=None,
        datasets=None,
    )
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.base_model is None and card.data.eval_results is None  # a local path is no hub id
    assert "CMLM cross-entropy on masked target tokens" in card.text and "**ENGINE**" not in card.text
    assert "| Metric | teacher | CMLM |" in card.text
    assert "| BLEU (sacreBLEU, detokenised) | 30.00 | 20.00 |" in card.text
    assert "| 0.1000 |" in card.text and "| – | 0.1000 |" in card.text
    assert "Operators (ENGINE" not in card.text


def test_summary_from_an_energy_trainer_reports_the_eval_loss_as_teacher_energy():
    args = SimpleNamespace(
        learning_rate=5e-5,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        world_size=2,
        o1="sx",
        o2="st",
        energy_length="oracle",
        ce_weight=0.0,
    )
    history = [{"loss": 3.0, "step": 10}, {"eval_loss": 2.5, "eval_bleu": 9.0, "step": 10}, {"train_runtime": 1.0}]
    trainer = SimpleNamespace(args=args, state=SimpleNamespace(global_step=10, log_history=history))
    summary, metrics = summary_from_trainer(trainer)
    assert summary["objective"].startswith("ENGINE") and summary["batch_size"] == 32 and summary["o2"] == "st"
    assert metrics == {"eval_bleu": 9.0, "teacher_energy": 2.5}


def test_fake_hub_reports_missing_files_and_repos_as_the_hub_does(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError

    api = HfApi()
    api.create_repo("engine-test/small")
    api.create_repo("engine-test/small", exist_ok=True)
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "a.txt").write_text("hello")
    api.upload_folder(repo_id="engine-test/small", folder_path=tmp_path / "folder")
    assert api.list_repo_files("engine-test/small") == ["sub/a.txt"]
    sha = api.model_info("engine-test/small").sha
    with open(hf_hub_download("engine-test/small", "sub/a.txt", revision=sha)) as file:
        assert file.read() == "hello"
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download("engine-test/small", "missing.txt")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("engine-test/absent")
    assert hub.url.startswith("http://127.0.0.1:") and hub.unhandled == []
