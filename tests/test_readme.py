"""The README and docs/RESULTS.md: both setup commands are there, the five-line and EnergyTrainer examples run as
printed, the generated tables are fresh and make_tables rewrites them in place, and plots and anchors resolve."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_five_line_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Five lines, no training", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "tensor([[" in printed
    assert (tmp_path / "tiny-cmlm" / "generation_config.json").exists()
    assert (tmp_path / "tiny-cmlm" / "modeling_cmlm.py").exists()


def test_readme_states_both_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_results_are_generated_from_results_json():
    """Every number in docs/RESULTS.md's tables and in the README's summary comes from results/*.json: regenerating
    them changes nothing."""
    from bench_tables import common
    from bench_tables.document import region, render
    from bench_tables.targets import render_summary

    stale = "is stale or hand-edited: run `python scripts/make_tables.py`"
    results = common.RESULTS_DOC.read_text(encoding="utf-8")
    assert region(results, "results") == render(), f"docs/RESULTS.md {stale}"
    summary = region(README.read_text(encoding="utf-8"), "summary")
    assert summary == render_summary(), f"the README's summary {stale}"
    assert "| A: `engine` from `cmlm_kd` |" in summary and "docs/RESULTS.md" in README.read_text(encoding="utf-8")



def test_make_tables_rewrites_both_documents_in_place_and_draws_the_plots(tmp_path, monkeypatch):
    """`python scripts/make_tables.py` (its `main`) on copies of README.md and docs/RESULTS.md: the committed
    documents come back unchanged (they are what it writes), and each plot they link is drawn."""
    from bench_helpers import load_script

    from bench_tables import common

    make_tables = load_script("make_tables")
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(README, tmp_path / "README.md")
    shutil.copy(common.RESULTS_DOC, docs / "RESULTS.md")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(common, "README", tmp_path / "README.md")
    monkeypatch.setattr(common, "DOCS", docs)
    monkeypatch.setattr(common, "RESULTS_DOC", docs / "RESULTS.md")
    assert make_tables.main() == 0
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == README.read_text(encoding="utf-8")
    results = (docs / "RESULTS.md").read_text(encoding="utf-8")
    assert results == (README.parent / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", results))
    assert linked and all((docs / name).exists() for name in linked)

def test_results_plots_are_linked_beside_the_results_doc():
    """docs/RESULTS.md links its plots relative to docs/, and every plot it links is committed."""
    text = (README.parent / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert plots and all(not plot.startswith("docs/") for plot in plots)
    missing = [plot for plot in plots if not (README.parent / "docs" / plot).exists()]
    assert not missing, f"docs/RESULTS.md links plots that are not in docs/: {missing}"


def test_readme_energy_trainer_example_runs_on_tiny_models(tokenizer, pairs, tmp_path, monkeypatch):
    """The "ENGINE in the code" Python block, with its folders holding tiny models and a fixture corpus."""
    from conftest import tiny_marian
    from datasets import Dataset, DatasetDict

    from engine_hf import CMLMForConditionalGeneration

    teacher = tiny_marian(tokenizer)
    teacher.save_pretrained(tmp_path / "teachers" / "en-pt")
    tokenizer.save_pretrained(tmp_path / "teachers" / "en-pt")
    student = CMLMForConditionalGeneration.from_teacher(teacher, decoder_layers=1, max_source_positions=64,
                                                        max_target_positions=64)
    student.save_pretrained(tmp_path / "runs" / "cmlm")
    tokenizer.save_pretrained(tmp_path / "runs" / "cmlm")
    rows = [{"translation": {"en": src, "pt": tgt}} for src, tgt in pairs[:16]]
    monkeypatch.setattr("engine_hf.data.load_corpus",
                        lambda *args, **kwargs: DatasetDict(train=Dataset.from_list(rows)))
    monkeypatch.chdir(tmp_path)

    section = README.read_text(encoding="utf-8").split("## ENGINE in the code", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "max_steps=300" in code and "per_device_train_batch_size=48" in code
    code = code.replace("max_steps=300", "max_steps=2").replace("per_device_train_batch_size=48",
                                                                 "per_device_train_batch_size=4, use_cpu=True")
    exec(compile(code, "README.md", "exec"), {})
    saved = tmp_path / "runs" / "engine"
    assert (saved / "model.safetensors").exists() and (saved / "tokenizer.json").exists()
    assert "teachers/en-pt" in (saved / "README.md").read_text(encoding="utf-8")


def test_results_contents_link_github_anchors():
    """The generated list of sections links each heading by the anchor GitHub gives it, repeats numbered."""
    from bench_tables.document import contents

    listed = contents("### Speed, A's `generate()` (EN->PT)\n\ntext\n\n### Speed, A's `generate()` (EN->PT)")
    assert listed.splitlines()[2:] == ["- [Speed, A's `generate()` (EN->PT)](#speed-as-generate-en-pt)",
                                       "- [Speed, A's `generate()` (EN->PT)](#speed-as-generate-en-pt-1)"]
