"""Fairness mitigation: per-group shares of a fixed caseload, by hand and against fairlearn."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import MITIGATION_NOTICE, Mitigation, mitigate
from studentprofile.evaluation._mitigation import GROUP_TOO_SMALL, NOT_MET

Y = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.5, 0.4, 0.3, 0.2, 0.05])
G = np.array(["a"] * 5 + ["b"] * 5)


def test_equal_tpr_by_hand():
    out = mitigate(Y, S, G, k=4, min_group_size=2)
    assert isinstance(out, Mitigation) and out.met and out.k == 4
    assert out.unmitigated_flags.tolist() == [True] * 4 + [False] * 6
    assert out.flags.tolist() == [True, True, False, False, False, True, True, False, False,
                                  False]
    assert out.groups["share"].tolist() == [0.5, 0.5]
    assert out.cost.loc["unmitigated", "tpr_difference"] == 1.0
    assert out.cost.loc["mitigated", "reached"] == 4
    assert out.notice == MITIGATION_NOTICE


def test_leftover_places_go_by_score_without_breaking_the_tolerance():
    # a: 2 positives at the top; b: 2 positives, one at the top, one far down
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
    s = np.array([0.95, 0.9, 0.5, 0.45, 0.1, 0.85, 0.6, 0.55, 0.3, 0.2])
    g = np.array(["a"] * 5 + ["b"] * 5)
    out = mitigate(y, s, g, k=3, min_group_size=2, tolerance=0.0)
    # highest common TPR at 3 places: 0.5 (a: 1 place, b: 1 place); the third place goes to
    # the best-scored student who keeps the TPRs equal: b's 0.6 (a's 0.9 is a positive)
    assert np.flatnonzero(out.flags).tolist() == [0, 5, 6]
    assert out.met and out.groups["tpr"].tolist() == [0.5, 0.5]
    assert out.groups.loc["b", "threshold"] == 0.6


def test_equal_selection_rate_by_hand():
    g = np.array(["a"] * 6 + ["b"] * 4)
    out = mitigate(Y, S, g, k=5, constraint="equal_selection_rate", min_group_size=2)
    assert out.groups["flagged"].tolist() == [3, 2]
    assert out.groups["selection_rate"].tolist() == [0.5, 0.5]
    assert out.met and out.cost.loc["mitigated", "selection_rate_difference"] == 0.0
    assert np.flatnonzero(out.flags).tolist() == [0, 1, 2, 6, 7]


def test_a_constraint_that_cannot_be_met_is_said_so():
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.4, 0.3])
    g = np.array(["a"] * 4 + ["b"] * 4)
    out = mitigate(y, s, g, k=1, tolerance=0.0, min_group_size=2)
    assert not out.met
    assert out.notes[0].startswith(NOT_MET)
    assert "NOT met" in repr(out) and "NOT met" in out._repr_html_()
    assert out.flags.sum() == 1


def test_apply_the_fitted_shares_to_a_new_caseload():
    out = mitigate(Y, S, G, k=4, min_group_size=2)
    new_s = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    new_g = np.array(["a", "a", "a", "b", "b", "b"])
    assert np.flatnonzero(out.apply(new_s, new_g, k=2)).tolist() == [0, 5]
    # a group cannot fill its places: the best of the rest take them
    assert np.flatnonzero(out.apply(new_s, np.array(["a"] * 5 + ["b"]), k=4)).tolist() == [
        0, 1, 2, 5]
    with pytest.raises(ConfigError, match=r"groups \['c'\] were not seen"):
        out.apply(new_s, np.array(["c"] * 6), k=2)


def test_missing_group_values_are_a_group_and_to_dict_has_no_students():
    g = np.array(["a"] * 5 + [None] * 5, dtype=object)
    out = mitigate(Y, S, g, k=4, min_group_size=2)
    assert out.groups.index.tolist() == ["a", "missing"]
    d = out.to_dict()
    assert set(d) == {"constraint", "tolerance", "k", "met", "groups", "cost", "notice", "notes"}


def test_mitigation_errors():
    with pytest.raises(ConfigError, match="constraint must be one of"):
        mitigate(Y, S, G, k=4, constraint="equalized_odds")
    with pytest.raises(ConfigError, match=re.escape("tolerance must be a number in [0, 1]")):
        mitigate(Y, S, G, k=4, tolerance=5)
    with pytest.raises(ConfigError, match="mitigation needs at least two groups"):
        mitigate(Y, S, ["a"] * 10, k=4)
    with pytest.raises(ConfigError, match=re.escape(GROUP_TOO_SMALL.format(m=6))):
        mitigate(Y, S, G, k=4, min_group_size=6)
    with pytest.raises(SchemaError, match="group must hold one value per student"):
        mitigate(Y, S, G[:5], k=4)
    with pytest.raises(SchemaError, match="labels must be 0 or 1"):
        mitigate(Y * 2, S, G, k=4)


# --------------------------------------------------------------------------- fairlearn
class _Identity(ClassifierMixin, BaseEstimator):
    """The scores as they are (fairlearn's ThresholdOptimizer on a fitted scorer)."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return np.asarray(X)[:, 0]


@pytest.fixture(scope="module")
def biased():
    """Group B's students who withdraw score lower than group A's."""
    rng = np.random.default_rng(0)
    n = 2000
    g = np.where(rng.random(n) < 0.7, "A", "B")
    y = (rng.random(n) < 0.2).astype(int)
    z = rng.normal(size=n) + 1.5 * y - np.where((g == "B") & (y == 1), 1.0, 0.0)
    return y, 1 / (1 + np.exp(-z)), g


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("equal_tpr", "true_positive_rate_parity"), ("equal_selection_rate", "demographic_parity")],
)
def test_against_fairlearn_threshold_optimizer(biased, ours, theirs):
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
    from fairlearn.postprocessing import ThresholdOptimizer

    y, s, g = biased
    X = pd.DataFrame({"score": s})
    optimizer = ThresholdOptimizer(
        estimator=_Identity().fit(X, y), constraints=theirs, prefit=True,
        predict_method="predict",
    ).fit(X, y, sensitive_features=g)
    p = optimizer._pmf_predict(X, sensitive_features=g)[:, 1]  # fairlearn randomises
    rate = "tpr" if ours == "equal_tpr" else "selection_rate"
    theirs_rates = [
        (p[g == k] * y[g == k]).sum() / y[g == k].sum() if rate == "tpr" else p[g == k].mean()
        for k in ("A", "B")
    ]
    assert abs(theirs_rates[0] - theirs_rates[1]) < 0.01
    out = mitigate(y, s, g, k=int(round(p.sum())), constraint=ours, tolerance=0.02)
    # the same parity, at the same caseload, reaching about as many students
    assert out.met
    assert out.groups[rate].max() - out.groups[rate].min() <= 0.02
    assert out.cost.loc["mitigated", "reached"] >= 0.95 * (p * y).sum()
    # and fairlearn's own metrics read our lists as we do
    for flags, suffix in ((out.flags, ""), (out.unmitigated_flags, "_unmitigated")):
        frame = MetricFrame(
            metrics={"tpr": true_positive_rate, "selection_rate": selection_rate},
            y_true=y, y_pred=flags.astype(int), sensitive_features=g,
        ).by_group
        np.testing.assert_allclose(frame["tpr"], out.groups["tpr" + suffix])
        np.testing.assert_allclose(
            frame["selection_rate"], out.groups["selection_rate" + suffix]
        )
    # mitigation narrows the gap the unmitigated top-k leaves
    assert out.cost.loc["unmitigated", f"{rate}_difference"] > 0.04
