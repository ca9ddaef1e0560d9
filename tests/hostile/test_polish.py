"""Hostile input for the polish area: terminal escapes in the CLI's grid, bad abc_baseline inputs.

(Hostile names in the notebook displays are in ``tests/test_display_workbench.py``.)
"""

from __future__ import annotations

import io

import pytest

from studentprofile import cli
from studentprofile.errors import ConfigError
from studentprofile.pipeline import RunResult
from studentprofile.warning import abc_baseline


def test_a_baseline_beating_the_grid_and_hostile_names_print_safely(tmp_path):
    grid = {"chosen": "a", "select_rule": "best_current_value", "metric": "ece",
            "candidates": {"a": "grid", "b\x1b[31m": "baseline"},
            "table": [{"candidate": "a", "kind": "grid", "ece": 0.05},
                      {"candidate": "b\x1b[31m", "kind": "baseline", "ece": 0.01}],
            "rules": [], "notes": ["left out: x"],
            "baseline_beat": [{"baseline": "b\x1b[31m", "metric": "ece", "value": 0.01,
                               "best_grid": "a", "best_grid_value": 0.05}]}
    result = RunResult(name="x", run_dir=tmp_path, model_dir=tmp_path, metrics={"n": 1},
                       facts={"grid": grid})
    stream = io.StringIO()
    cli._summary(result, cli._Out(as_json=False, quiet=False, stream=stream), title="Result:")
    text = stream.getvalue()
    assert "\x1b" not in text and "b\\x1b[31m" in text
    assert "NOTE: baseline b\\x1b[31m beat every grid candidate on ece (0.010 vs 0.050 for a" \
        in text
    assert "  note: left out: x" in text and "selection rules" not in text


def test_feature_info_of_the_wrong_type_is_a_typed_error():
    with pytest.raises(ConfigError, match=r"feature_info: feature_info must be a mapping"
                       r"(.|\n)*type int"):
        abc_baseline(3)
    with pytest.raises(ConfigError, match=r"rules: rules must be ABCRules(.|\n)*type str"):
        abc_baseline({}, rules="attendance")
