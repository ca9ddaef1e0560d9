"""Hostile inputs for the evaluation package: every case a campus met, kept forever.

Each test names the issue item it guards (issue 12 "campus-ready hardening", issue 13 "auditor
trust and code health").
"""

from __future__ import annotations

import pytest

import studentprofile as sp
from studentprofile.errors import OutputError


# ------------------------------------------------------------------ 12.14: one atomic writer
def test_report_save_to_an_unwritable_place_is_a_typed_error(tmp_path):
    report = sp.evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
    with pytest.raises(OutputError, match="report.html"):
        report.save("/proc/report.html")
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "report.json").mkdir()  # a folder where the file should go
    with pytest.raises(OutputError, match="is a folder"):
        report.save(folder / "report.json")


def test_report_save_never_writes_through_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    # the old fixed-name scheme wrote through `.<name>.tmp`; plant every such name
    (out / ".report.html.tmp").symlink_to(victim)
    report = sp.evaluate(y_true=[0, 1, 0, 1], scores=[0.2, 0.7, 0.4, 0.6], k=[2])
    report.save(out / "report.html")
    assert victim.read_text(encoding="utf-8") == "precious"
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
