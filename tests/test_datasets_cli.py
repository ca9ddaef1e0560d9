"""`studentprofile datasets` and `demo` work on the bundled data."""

from __future__ import annotations

import io
import json

from studentprofile.cli import main


def test_cli_datasets_lists_both_bundled_sets():
    out = io.StringIO()
    assert main(["datasets", "--json"], stream=out) == 0
    listing = {d["name"]: d for d in json.loads(out.getvalue())["datasets"]}
    assert set(listing) == {"oulad", "uci_dropout"}
    assert listing["oulad"]["students"] == 32_593
    assert listing["uci_dropout"]["outcomes"] == 4_424
    assert all(d["licence"] == "CC BY 4.0" for d in listing.values())


def test_cli_demo_summarises_oulad():
    out = io.StringIO()
    assert main(["demo", "--json"], stream=out) == 0
    payload = json.loads(out.getvalue())
    assert (payload["students"], payload["outcomes"]) == (32_593, 32_593)
    kinds = {row["kind"]: row["events"] for row in payload["by_kind"]}
    assert kinds["tma_score"] + kinds["cma_score"] + kinds["exam_score"] == 173_912
