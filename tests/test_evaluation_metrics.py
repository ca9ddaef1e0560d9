"""Threshold-free metrics: hand-computed examples, scikit-learn equality, invariants, errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import (
    _inputs,
    brier_score,
    expected_calibration_error,
    log_loss,
    pr_auc,
    pr_curve,
    reliability_curve,
    roc_auc,
    roc_curve,
)

# scores drawn from a few values so that ties are common
tied_scores = st.sampled_from([0.0, 0.1, 0.25, 0.25, 0.5, 0.7, 0.9, 1.0])


@st.composite
def labelled(draw, min_size=2, max_size=40, both=True, scores=tied_scores):
    n = draw(st.integers(min_size, max_size))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    s = draw(st.lists(scores, min_size=n, max_size=n))
    if both:
        assume(0 < sum(y) < n)
    return np.array(y), np.array(s, dtype=np.float64)


# ------------------------------------------------------------------ hand-computed examples
def test_roc_auc_by_hand():
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won (0.35>0.1), (0.8>0.1), (0.8>0.4),
    # lost (0.35<0.4): 3 of 4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_roc_auc_ties_count_half():
    # positive 0.5 ties negative 0.5 (half), beats negative 0.2 -> (1 + 0.5) / 2
    assert roc_auc([1, 0, 0], [0.5, 0.5, 0.2]) == 0.75


def test_pr_auc_by_hand_with_ties():
    # scores desc: 0.9 (pos), then {0.5 pos, 0.5 neg} tied, then 0.1 (pos)
    # thresholds: 0.9 -> P=1, R=1/3; 0.5 -> P=2/3, R=2/3; 0.1 -> P=3/4, R=1
    # AP = 1/3*1 + 1/3*2/3 + 1/3*3/4
    expected = (1 + 2 / 3 + 3 / 4) / 3
    assert pr_auc([1, 1, 0, 1], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(expected, abs=1e-15)


def test_brier_and_log_loss_by_hand():
    assert brier_score([0, 1, 1], [0.2, 0.9, 0.5]) == pytest.approx(0.1, abs=1e-15)
    expected = -(np.log(0.8) + np.log(0.9) + np.log(0.5)) / 3
    assert log_loss([0, 1, 1], [0.2, 0.9, 0.5]) == pytest.approx(expected, abs=1e-15)


def test_log_loss_clips_certain_mistakes():
    eps = np.finfo(np.float64).eps
    assert log_loss([1], [0.0]) == pytest.approx(-np.log(eps))


def test_reliability_and_ece_by_hand():
    y = [0, 1, 0, 1, 1]
    p = [0.1, 0.2, 0.5, 0.55, 1.0]
    curve = reliability_curve(y, p, n_bins=2)
    # bin 0 is [0, 0.5] (right-closed): 0.1, 0.2, 0.5 -> mean 0.8/3, observed 1/3
    # bin 1 is (0.5, 1]: 0.55, 1.0 -> mean 0.775, observed 1
    assert curve["count"].tolist() == [3, 2]
    assert curve["mean_predicted"].tolist() == pytest.approx([0.8 / 3, 0.775])
    assert curve["observed_rate"].tolist() == pytest.approx([1 / 3, 1.0])
    expected = 3 / 5 * abs(1 / 3 - 0.8 / 3) + 2 / 5 * abs(1 - 0.775)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected, abs=1e-15)


def test_reliability_empty_bin_is_nan_and_does_not_count():
    curve = reliability_curve([0, 1], [0.05, 0.95], n_bins=4)
    assert curve["count"].tolist() == [1, 0, 0, 1]
    assert curve["observed_rate"].isna().tolist() == [False, True, True, False]
    assert expected_calibration_error([0, 1], [0.05, 0.95], n_bins=4) == pytest.approx(0.05)


def test_undefined_metrics_are_nan():
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    assert np.isnan(pr_auc([0, 0], [0.2, 0.3]))
    assert np.isnan(brier_score([], []))
    assert np.isnan(log_loss([], []))
    assert np.isnan(expected_calibration_error([], []))


def test_curves_by_hand():
    roc = roc_curve([0, 1, 1], [0.2, 0.9, 0.2])
    assert roc["fpr"].tolist() == [0.0, 0.0, 1.0]
    assert roc["tpr"].tolist() == [0.0, 0.5, 1.0]
    pr = pr_curve([0, 1, 1], [0.2, 0.9, 0.2])
    assert pr["precision"].tolist() == pytest.approx([1.0, 2 / 3])
    assert pr["recall"].tolist() == [0.5, 1.0]


# ---------------------------------------------------------------- equal to scikit-learn
@given(labelled())
def test_roc_auc_equals_sklearn(data):
    y, s = data
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


@given(labelled(scores=st.floats(-1e6, 1e6, allow_nan=False)))
def test_roc_auc_equals_sklearn_on_any_real_scores(data):
    y, s = data
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


@given(labelled())
def test_pr_auc_equals_average_precision(data):
    y, s = data
    assert pr_auc(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


@given(labelled(min_size=1, both=False))
def test_brier_and_log_loss_equal_sklearn(data):
    y, s = data
    expected = skm.brier_score_loss(y, s, labels=[0, 1])
    assert brier_score(y, s) == pytest.approx(expected, abs=1e-12)
    assert log_loss(y, s) == pytest.approx(skm.log_loss(y, s, labels=[0, 1]), abs=1e-9)


@given(
    labelled(min_size=1, both=False), st.integers(1, 12), st.sampled_from(["uniform", "quantile"])
)
def test_reliability_curve_equals_sklearn_calibration_curve(data, n_bins, strategy):
    y, s = data
    assume(len(np.unique(y)) <= 2)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=n_bins, strategy=strategy, pos_label=1)
    curve = reliability_curve(y, s, n_bins=n_bins, strategy=strategy)
    nonempty = curve[curve["count"] > 0]
    assert nonempty["observed_rate"].to_numpy() == pytest.approx(prob_true, abs=1e-12)
    assert nonempty["mean_predicted"].to_numpy() == pytest.approx(prob_pred, abs=1e-12)


@given(labelled())
def test_roc_curve_matches_sklearn_points(data):
    y, s = data
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    ours = roc_curve(y, s)
    assert ours["fpr"].to_numpy() == pytest.approx(fpr)
    assert ours["tpr"].to_numpy() == pytest.approx(tpr)


# ---------------------------------------------------------------------------- invariants
monotone = st.sampled_from(
    [
        lambda x: 3 * x - 1,
        lambda x: np.exp(2 * x),
        lambda x: x**3,
        lambda x: np.log1p(x + 1),
        lambda x: 1 / (1 + np.exp(-5 * x)),
    ]
)


@given(labelled(), monotone)
def test_ranking_metrics_unchanged_by_monotone_transforms(data, f):
    y, s = data
    t = f(s)
    assume(len(np.unique(t)) == len(np.unique(s)))  # strictly monotone on these values
    assert roc_auc(y, t) == pytest.approx(roc_auc(y, s), abs=1e-12)
    assert pr_auc(y, t) == pytest.approx(pr_auc(y, s), abs=1e-12)


@given(labelled())
def test_auc_of_reversed_scores_is_one_minus_auc(data):
    y, s = data
    assert roc_auc(y, -s) == pytest.approx(1 - roc_auc(y, s), abs=1e-12)


@given(labelled(min_size=1, both=False))
def test_metric_bounds(data):
    y, s = data
    assert 0 <= brier_score(y, s) <= 1
    assert 0 <= expected_calibration_error(y, s) <= 1
    assert log_loss(y, s) >= 0


def test_perfectly_calibrated_bins_have_zero_ece():
    y = [0, 0, 0, 1] * 5 + [1, 1, 1, 0] * 5
    p = [0.25] * 20 + [0.75] * 20
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.0, abs=1e-15)


# ------------------------------------------------------------------------------- inputs
def test_accepts_bools_series_and_column_vectors():
    y = pd.Series([False, False, True, True])
    s = np.array([[0.1], [0.4], [0.35], [0.8]])
    assert roc_auc(y, s) == 0.75
    nullable = pd.Series([0.1, 0.4, 0.35, 0.8]).astype("Float64")
    assert roc_auc([0.0, 0.0, 1.0, 1.0], nullable) == 0.75


def test_lengths_differ():
    message = _inputs.LENGTHS_DIFFER.format(a="y_true", b="scores")
    with pytest.raises(SchemaError, match=re.escape(message)) as info:
        roc_auc([0, 1, 1], [0.1, 0.2])
    assert "3 value(s) in y_true, 2 in scores" in str(info.value)


def test_nan_scores_are_refused_with_positions():
    with pytest.raises(SchemaError, match=re.escape(_inputs.SCORES_NOT_FINITE)) as info:
        roc_auc([0, 1, 1], [0.1, np.nan, 0.3])
    assert "positions 1" in str(info.value)
    assert "drop unscored rows" in str(info.value)


def test_labels_must_be_binary():
    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_NOT_BINARY)) as info:
        roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    assert "values 2 at positions 1" in str(info.value)
    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_NOT_BINARY)):
        roc_auc(["no", "yes"], [0.1, 0.2])
    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_MISSING)):
        roc_auc([0, np.nan, 1], [0.1, 0.2, 0.3])
    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_MISSING)):
        roc_auc(pd.Series([0, None, 1], dtype="Int64"), [0.1, 0.2, 0.3])


def test_probability_metrics_need_probabilities():
    with pytest.raises(SchemaError, match=re.escape(_inputs.PROBABILITIES_OUT_OF_RANGE)) as info:
        brier_score([0, 1], [-0.5, 2.0])
    assert "ranking metrics" in str(info.value)
    assert roc_auc([0, 1], [-0.5, 2.0]) == 1.0  # ranking metrics accept any real score


def test_predict_proba_output_gets_a_hint():
    with pytest.raises(SchemaError, match=re.escape(_inputs.NOT_ONE_DIMENSIONAL)) as info:
        roc_auc([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert "proba[:, 1]" in str(info.value)


def test_misaligned_series_are_refused():
    y = pd.Series([0, 1], index=["a", "b"])
    s = pd.Series([0.1, 0.9], index=["b", "a"])
    message = _inputs.INDEXES_DIFFER.format(a="y_true", b="scores")
    with pytest.raises(SchemaError, match=re.escape(message)):
        roc_auc(y, s)


def test_text_scores_are_refused():
    with pytest.raises(SchemaError, match=re.escape(_inputs.SCORES_NOT_NUMERIC)):
        roc_auc([0, 1], ["low", "high"])


def test_bad_bins():
    with pytest.raises(ConfigError, match=re.escape(_inputs.N_BINS_INVALID)):
        expected_calibration_error([0, 1], [0.1, 0.9], n_bins=0)
    with pytest.raises(ConfigError, match=re.escape(_inputs.STRATEGY_INVALID)):
        reliability_curve([0, 1], [0.1, 0.9], strategy="equal")
