"""The example notebooks (issue 17) execute without an error, so they can never rot.

Each notebook in examples/notebooks/ runs top to bottom in a real Jupyter kernel (nbclient) in a
fresh temporary folder. The kernel is this interpreter (a kernel spec written for the test:
an installed ``python3`` spec could point to another Python without this checkout). A cell
that raises fails the test with the cell's source and the error. The committed outputs are
checked to stay small: a notebook in the repository is read on GitHub, and a few hundred
kilobytes of HTML would bury the code.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "examples" / "notebooks").glob("*.ipynb"))

try:
    import nbclient
    import nbformat
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("needs nbclient and ipykernel: pip install -e '.[test]'", allow_module_level=True)

pytestmark = pytest.mark.slow  # each notebook trains and evaluates a model (10-30 s)

#: What a committed notebook may weigh, outputs included.
MAX_BYTES = 80_000


def test_the_three_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == ["auditor", "campus_developer", "data_scientist"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_executed_small_and_error_free(path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "commit the notebook executed"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert path.stat().st_size < MAX_BYTES


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec named ``studentprofile-tests`` that runs ``sys.executable``."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "studentprofile-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "studentprofile tests", "language": "python",
    }), encoding="utf-8")
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, kernel, tmp_path, monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(kernel))
    work = tmp_path / "work"
    work.mkdir()
    copy = work / path.name
    shutil.copy(path, copy)
    book = nbformat.read(copy, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="studentprofile-tests",
                                     resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell raised\n{error}")
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert code[-1].outputs[0]["text"].strip() == sys.executable
    assert list(work.iterdir()) == [copy]  # a notebook cleans up after itself
