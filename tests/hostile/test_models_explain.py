"""Hostile inputs for the risk model, explanations and feature infos (the catalogue grows here).

Each test names the issue item it guards (12.x: campus-ready hardening, 13.x: auditor trust).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import SchemaError
from studentprofile.models import RiskModel


def _separable(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"absences": rng.uniform(0, 10, n), "noise": rng.normal(size=n)})
    y = (X["absences"] > 5).astype(int).to_numpy()
    return X, y


# ----------------------------------------------------------------- 12.7 label alignment
@pytest.mark.parametrize(
    "y_index",
    [
        pytest.param(lambda n: np.arange(n)[::-1], id="reversed-ints"),
        pytest.param(lambda n: pd.RangeIndex(1, n + 1), id="shifted-rangeindex"),
        pytest.param(lambda n: [f"s{i:04d}" for i in range(n)], id="text-ids"),
        pytest.param(
            lambda n: pd.MultiIndex.from_arrays(
                [[f"s{i}" for i in range(n)], np.zeros(n)], names=["student_id", "as_of"]
            ),
            id="feature-matrix-index",
        ),
    ],
)
def test_y_with_another_index_than_a_rangeindexed_X_is_refused(y_index):
    # regression: X with a RangeIndex and y with any other index were matched by position
    # silently (AUC 0.51 instead of 1.0 when y had been sorted apart from X)
    X, y = _separable()
    y_series = pd.Series(y, index=y_index(len(X)))
    with pytest.raises(SchemaError, match=r"y's index must equal X's index") as info:
        RiskModel(n_estimators=20).fit(X, y_series)
    assert info.value.rule == "aligned"
    assert "y = y.loc[X.index]" in str(info.value)


def test_y_series_with_X_own_rangeindex_and_arrays_still_fit():
    X, y = _separable()
    RiskModel(n_estimators=20).fit(X, pd.Series(y))  # both RangeIndex(0, n)
    keep = pd.Series(y == y, index=X.index)
    RiskModel(n_estimators=20).fit(X[keep], pd.Series(y)[keep])  # filtered the same way
    # an array X has no index to match: any y index is positional
    RiskModel(n_estimators=20).fit(X.to_numpy(), pd.Series(y, index=np.arange(len(y))[::-1]))


def test_y_index_difference_names_the_first_differing_row():
    X, y = _separable()
    with pytest.raises(SchemaError, match=r"row 0: y's index has 399, X's has 0"):
        RiskModel(n_estimators=20).fit(X, pd.Series(y, index=np.arange(len(y))[::-1]))


def test_y_shorter_with_another_index_names_the_lengths():
    X, y = _separable()
    with pytest.raises(SchemaError, match=r"y has 399 rows \(RangeIndex\), X has 400"):
        RiskModel(n_estimators=20).fit(X, pd.Series(y[:-1]))
