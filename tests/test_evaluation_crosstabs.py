"""Crosstabs and error analysis: feature contrasts with tests and effect sizes, by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import DESCRIPTIVE_CAVEAT, Crosstabs, crosstabs, error_analysis
from studentprofile.evaluation._crosstabs import _bh


@pytest.fixture
def X():
    return pd.DataFrame({
        "attendance": [0.50, 0.60, np.nan, 0.90, 0.95, 0.85, 0.70],
        "clicks": [3.0, 1.0, 2.0, 10.0, 12.0, 2.0, 8.0],
        "active": [False, False, True, True, True, True, False],
        "program": ["x", "y", "x", "y", "x", "y", "x"],
    })


FLAGGED = np.array([True, True, True, False, False, False, False])


def test_crosstabs_by_hand(X):
    out = crosstabs(X, FLAGGED)
    assert isinstance(out, Crosstabs) and out.caveat == DESCRIPTIVE_CAVEAT
    f = out.frame
    assert list(f.index) == ["attendance", "clicks", "active"]  # by |rank-biserial|
    row = f.loc["attendance"]
    assert row["n_flagged"] == 2 and row["n_not_flagged"] == 4
    assert row["missing_flagged"] == pytest.approx(1 / 3)
    assert row["mean_flagged"] == pytest.approx(0.55)
    assert row["median_not_flagged"] == pytest.approx(0.875)
    test = mannwhitneyu([0.5, 0.6], [0.9, 0.95, 0.85, 0.7], alternative="two-sided")
    assert row["p"] == pytest.approx(test.pvalue)
    assert row["rank_biserial"] == pytest.approx(-1.0)  # every flagged value is lower
    a, b = np.array([0.5, 0.6]), np.array([0.9, 0.95, 0.85, 0.7])
    pooled = np.sqrt((a.var(ddof=1) + 3 * b.var(ddof=1)) / 4)
    assert row["cohens_d"] == pytest.approx((a.mean() - b.mean()) / pooled)
    clicks = f.loc["clicks"]
    u = mannwhitneyu([3.0, 1.0, 2.0], [10.0, 12.0, 2.0, 8.0]).statistic
    assert clicks["rank_biserial"] == pytest.approx(2 * u / 12 - 1)
    assert f.loc["active", "mean_flagged"] == pytest.approx(1 / 3)
    assert out.notes == ["not numeric, left out: program"]
    np.testing.assert_allclose(f["p_adjusted"], _bh(f["p"].to_numpy()))


def test_benjamini_hochberg_by_hand():
    np.testing.assert_allclose(_bh(np.array([0.01, 0.04, 0.03, np.nan])),
                               [0.03, 0.04, 0.04, np.nan])
    np.testing.assert_allclose(_bh(np.array([0.9, 0.8])), [0.9, 0.9])


def test_group_names_html_and_figure(X):
    out = crosstabs(X, FLAGGED, groups=("top", "rest"))
    assert "mean_top" in out.frame.columns and "p_rest" not in out.frame.columns
    page = out._repr_html_()
    assert "Descriptive" in page and "<table>" in page
    fig = out.figure(top=2)
    assert len(fig.axes[0].patches) == 2


def test_crosstabs_errors(X):
    with pytest.raises(ConfigError, match=re.escape(
            "both groups need at least one row: flagged has 7, not_flagged has 0")):
        crosstabs(X, np.ones(7, dtype=bool))
    with pytest.raises(SchemaError, match=r"`flagged` must be a boolean array(.|\n)*for 7 row"):
        crosstabs(X, [1, 0, 1, 0, 0, 0, 0])
    with pytest.raises(SchemaError, match="X must be a DataFrame of features"):
        crosstabs(X.to_numpy(), FLAGGED)
    with pytest.raises(SchemaError, match="at least one numeric column"):
        crosstabs(X[["program"]], FLAGGED)


def test_error_analysis_contrasts_false_and_true_positives_per_date():
    X = pd.DataFrame({
        "as_of": [7.0] * 4 + [14.0] * 4,
        "attendance": [0.2, 0.9, 0.3, 0.8, 0.25, 0.95, 0.5, 0.1],
    })
    y = [1, 0, 0, 0, 1, 0, 0, 1]
    s = [0.9, 0.8, 0.1, 0.2, 0.7, 0.9, 0.1, 0.2]
    # k=2 per date: rows 0, 1 at day 7; rows 5, 4 at day 14
    out = error_analysis(X, y, s, k=2)
    assert out.groups == ("false_positive", "true_positive")
    row = out.frame.loc["attendance"]
    assert row["n_false_positive"] == 2 and row["n_true_positive"] == 2
    assert row["mean_false_positive"] == pytest.approx((0.9 + 0.95) / 2)
    assert row["mean_true_positive"] == pytest.approx((0.2 + 0.25) / 2)
    assert "as_of" not in out.frame.index
    assert out.notes[0] == "caseload: 4 flagged row(s) at k=2"
    # one caseload over all rows: the top 2 are rows 0 and 5 (0.9 each, earlier first)
    with pytest.raises(ConfigError, match="true_positive has 1|false_positive has 1"):
        error_analysis(X, y, s, k=1, by=None)
    indexed = X.set_index("as_of", append=True)
    same = error_analysis(indexed, y, s, k=2)
    pd.testing.assert_frame_equal(same.frame, out.frame)


def test_error_analysis_input_errors():
    X = pd.DataFrame({"a": [0.1, 0.2, 0.3]})
    with pytest.raises(SchemaError, match="labels must be 0 or 1"):
        error_analysis(X, [0, 2, 1], [0.1, 0.2, 0.3], k=2)
    with pytest.raises(SchemaError, match="`X` and `y_true` must have the same length"):
        error_analysis(X, [0, 1], [0.1, 0.2], k=1)
