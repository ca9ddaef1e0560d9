"""`studentprofile datasets` lists the bundled data (the demo is tested in test_cli.py)."""

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
