"""API consistency of the evaluation package (issue 13, item 12): `outcome` everywhere, one
`ties` default, `score_frame` for long-format scores, deprecated old names kept one release."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError
from studentprofile.evaluation import (
    TemporalSplits,
    _inputs,
    backtest,
    flags_from_scores,
    lead_time,
    lift_at_k,
    long_scores,
    precision_at_capacity,
    precision_at_k,
    recall_at_k,
)
from studentprofile.tables import EventTables

FRAME = pd.DataFrame(
    {"student_id": ["a", "a", "b", "c"], "as_of": [0.0, 7.0, 0.0, 0.0],
     "score": [0.2, 0.9, 0.5, 0.5]}
)
OUTCOMES = pd.DataFrame({"student_id": ["a", "b"], "time": [20.0, 10.0]})


def test_one_ties_default_everywhere():
    functions = [precision_at_k, recall_at_k, lift_at_k, precision_at_capacity, lead_time,
                 flags_from_scores]
    defaults = {f.__name__: inspect.signature(f).parameters["ties"].default for f in functions}
    assert set(defaults.values()) == {_inputs.DEFAULT_TIES} == {"worst"}, defaults


def test_long_format_scores_are_called_score_frame():
    for f in (lead_time, long_scores, flags_from_scores):
        params = inspect.signature(f).parameters
        assert "score_frame" in params and "scores" not in params, f.__name__


@pytest.mark.parametrize(
    "call",
    [
        lambda **kw: long_scores(**kw),
        lambda **kw: flags_from_scores(score_frame=long_scores(kw.pop("score_frame")), k=1)
        if "score_frame" in kw
        else flags_from_scores(scores=long_scores(kw.pop("scores")), k=1),
        lambda **kw: lead_time(outcomes=OUTCOMES, threshold=0.5, **kw),
    ],
)
def test_old_scores_keyword_still_works_with_a_future_warning(call):
    new = call(score_frame=FRAME)
    with pytest.warns(FutureWarning, match=r"\(scores=\.\.\.\) is deprecated.*score_frame="):
        old = call(scores=FRAME)
    if isinstance(new, pd.DataFrame):
        pd.testing.assert_frame_equal(new, old)
    elif isinstance(new, np.ndarray):
        assert new.tolist() == old.tolist()
    else:
        pd.testing.assert_frame_equal(new.per_student, old.per_student)


def test_old_and_new_name_together_is_an_error():
    message = re.escape(_inputs.RENAMED_TWICE.format(old="scores", new="score_frame"))
    with pytest.raises(ConfigError, match=message):
        long_scores(scores=FRAME, score_frame=FRAME)


def _tiny_backtest_case():
    students = pd.DataFrame({"student_id": list("abcdefgh"),
                             "engagement": [0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.9, 0.2]})
    outcomes = pd.DataFrame({"student_id": ["b", "d", "f", "h"],
                             "time": [15.0, 25.0, 45.0, 55.0], "outcome": "withdrawn"})

    class Engagement:
        def transform(self, tables, grid):
            e = grid["student_id"].map(tables.students.set_index("student_id")["engagement"])
            index = pd.MultiIndex.from_frame(grid[["student_id", "as_of"]])
            return pd.DataFrame({"engagement": e.to_numpy()}, index=index)

    from sklearn.linear_model import LogisticRegression

    return dict(
        tables=EventTables(students=students, outcomes=outcomes),
        splits=TemporalSplits(test_start=40.0, test_end=60.0, horizon=20, every=10),
        feature_builder=Engagement(), model=LogisticRegression(), k=[2],
        test_observed_until=100.0,
    )


def test_backtest_takes_outcome_and_label_is_a_deprecated_alias():
    new = backtest(**_tiny_backtest_case(), outcome="withdrawn")
    assert new.params["outcome"] == "withdrawn"
    with pytest.warns(FutureWarning, match=r"backtest\(label=\.\.\.\) is deprecated.*outcome="):
        old = backtest(**_tiny_backtest_case(), label="withdrawn")
    pd.testing.assert_frame_equal(new.metrics, old.metrics)
    assert "outcome withdrawn within 20 days" in new.report(k=[2]).to_html()
