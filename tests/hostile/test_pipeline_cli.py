"""Hostile input for the pipeline and the command line: ids, files, configs, URIs a campus has.

Each test names the issue item it guards (12.x: campus-ready hardening, 13.x: auditor trust).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import studentprofile as sp
from studentprofile import cli


def call(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(list(argv), stream=out), out.getvalue()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A saved model on two numeric features (seconds to fit), and rows to score."""
    root = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"clicks": rng.normal(size=300), "score": rng.normal(size=300)})
    y = (X["clicks"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    model = sp.RiskModel(n_estimators=20).fit(X, y)
    path = sp.tracking.save_model(model, root / "model", tiers={"high": 0.7})
    rows = X.head(4).assign(student_id=["=HYPERLINK(\"http://x\")", "000123", "+1", "@SUM(A1)"])
    return path, rows


# ---------------------------------------------------------------- 12.4 / 12.14 score --output
def test_score_output_csv_neutralises_formulas_and_keeps_leading_zeros(small_model, tmp_path):
    model, rows = small_model
    rows.to_csv(tmp_path / "in.csv", index=False)
    code, _ = call("score", "--model", str(model), "--input", str(tmp_path / "in.csv"),
                   "--output", str(tmp_path / "risk.csv"), "--quiet")
    assert code == cli.EXIT_OK
    ids = pd.read_csv(tmp_path / "risk.csv", dtype=str)["student_id"].tolist()
    assert ids == ["'=HYPERLINK(\"http://x\")", "000123", "'+1", "'@SUM(A1)"]


def test_score_output_never_writes_through_a_planted_symlink(small_model, tmp_path):
    model, rows = small_model
    rows.to_csv(tmp_path / "in.csv", index=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    # the old writer used the fixed temporary name .<name>.tmp
    os.symlink(victim, tmp_path / ".risk.csv.tmp")
    code, _ = call("score", "--model", str(model), "--input", str(tmp_path / "in.csv"),
                   "--output", str(tmp_path / "risk.csv"), "--quiet")
    assert code == cli.EXIT_OK
    assert victim.read_text() == "keep me"
    assert "risk" in (tmp_path / "risk.csv").read_text()


# ---------------------------------------------------------------- 12.20 score --output /proc
def test_score_output_to_proc_is_an_output_error_exit_2(small_model, tmp_path, capsys):
    model, rows = small_model
    rows.to_csv(tmp_path / "in.csv", index=False)
    code, _ = call("score", "--model", str(model), "--input", str(tmp_path / "in.csv"),
                   "--output", "/proc/x.csv")
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR
    assert err.startswith("error: /proc/x.csv: the file could not be created")
    assert "Traceback" not in err
