"""The README's five-line example runs as printed."""

from __future__ import annotations

import re
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


def test_readme_results_are_generated_from_results_json():
    """Every number in the results section comes from results/*.json: regenerating it changes nothing."""
    import importlib.util

    path = README.parent / "scripts" / "make_tables.py"
    spec = importlib.util.spec_from_file_location("make_tables", path)
    make_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_tables)
    assert make_tables.readme_section(README.read_text(encoding="utf-8")) == make_tables.render(), (
        "README results section is stale or hand-edited: run `python scripts/make_tables.py`"
    )
