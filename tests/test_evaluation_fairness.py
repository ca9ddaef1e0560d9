"""Fairness audit: fairlearn cross-checks, hand examples, references, suppression, CIs, tests."""

from __future__ import annotations

import functools
import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import fisher_exact
from sklearn.metrics import precision_score

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import DISPARITY_METRICS, _fairness, _groups, _inputs, fairness_audit


def _npv(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    unflagged = ~y_pred.astype(bool)
    return np.nan if not unflagged.any() else float((y_true[unflagged] == 0).mean())


def _fdr(y_true, y_pred):
    return 1 - precision_score(y_true, y_pred, zero_division=np.nan)


FAIRLEARN_METRICS = {
    "size": count,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": functools.partial(precision_score, zero_division=np.nan),
    "fdr": _fdr,
    "npv": _npv,
}


@pytest.fixture
def population(rng):
    n = 1500
    attrs = pd.DataFrame(
        {
            "gender": rng.choice(["F", "M", "X"], n, p=[0.5, 0.45, 0.05]),
            "disability": rng.choice(["N", "Y", None], n, p=[0.8, 0.15, 0.05]),
        }
    )
    risk = 0.1 + 0.3 * (attrs["disability"] == "Y") + 0.1 * (attrs["gender"] == "M")
    y = (rng.random(n) < risk).astype(int).to_numpy()
    s = np.clip(risk.to_numpy() + rng.normal(0, 0.2, n), 0, 1)
    return y, s, attrs


def _check_against_fairlearn(frame, mf, attribute, label_of, min_group_size=5):
    by = mf.by_group
    for key, expected in by.iterrows():
        label = label_of(key)
        hit = frame[(frame["attribute"] == attribute) & (frame["group"] == label)]
        if expected["size"] < min_group_size:  # suppressed: counted, never named
            assert hit.empty, (attribute, label)
            continue
        row = hit.iloc[0]
        for metric in FAIRLEARN_METRICS:
            ours = float(row[metric])
            theirs = float(expected[metric])
            if np.isnan(theirs):
                assert np.isnan(ours), (attribute, label, metric)
            else:
                assert ours == pytest.approx(theirs, abs=1e-12), (attribute, label, metric)


def test_group_metrics_equal_fairlearn_metricframe_at_a_threshold(population):
    y, s, attrs = population
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.4, min_group_size=5, n_boot=0
    )
    frame = audit.to_frame()
    y_pred = (s >= 0.4).astype(int)
    filled = attrs.fillna("missing")
    for column in ("gender", "disability"):
        mf = MetricFrame(
            metrics=FAIRLEARN_METRICS, y_true=y, y_pred=y_pred, sensitive_features=filled[column]
        )
        _check_against_fairlearn(frame, mf, column, str)
    # the intersection against fairlearn's multi-feature groups
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS,
        y_true=y,
        y_pred=y_pred,
        sensitive_features=filled[["gender", "disability"]],
    )
    _check_against_fairlearn(frame, mf, "gender & disability", lambda key: " & ".join(key))
    # overall, too
    for metric in ("selection_rate", "tpr", "fpr", "precision"):
        assert audit.overall[metric] == pytest.approx(float(mf.overall[metric]), abs=1e-12)


def test_group_metrics_equal_fairlearn_at_top_k_without_ties(population):
    y, s, attrs = population
    s = s + np.arange(len(s)) * 1e-9  # distinct scores
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs[["gender"]], k=0.2, min_group_size=5, n_boot=0
    )
    top = np.zeros(len(s), dtype=int)
    top[np.argsort(-s)[: int(0.2 * len(s))]] = 1
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS, y_true=y, y_pred=top, sensitive_features=attrs["gender"]
    )
    _check_against_fairlearn(audit.to_frame(), mf, "gender", str)


def test_hand_example():
    # four F and four M students, each written three times (groups must have 5 or more)
    y = [1, 0, 1, 0] * 3 + [1, 0, 0, 0] * 3
    s = [0.9, 0.8, 0.7, 0.1] * 3 + [0.6, 0.5, 0.2, 0.3] * 3
    attrs = pd.DataFrame({"gender": ["F"] * 12 + ["M"] * 12})
    f = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.55, min_group_size=5, n_boot=0
    ).to_frame().set_index("group")
    # F: flagged 0.9 (pos), 0.8 (neg), 0.7 (pos); 0.1 (neg) not -> tp 2, fp 1, fn 0, tn 1
    # M: flagged 0.6 (pos); 0.5, 0.2, 0.3 (neg) not -> tp 1, fp 0, fn 0, tn 3 (times three)
    assert f.loc["F", ["tp", "fp", "fn", "tn"]].tolist() == [6, 3, 0, 3]
    assert f.loc["M", ["tp", "fp", "fn", "tn"]].tolist() == [3, 0, 0, 9]
    assert f.loc["F", "selection_rate"] == 0.75 and f.loc["M", "selection_rate"] == 0.25
    assert f.loc["F", "flagged_share"] == 0.75 and f.loc["M", "flagged_share"] == 0.25
    assert f.loc["F", "fpr"] == 0.5 and f.loc["M", "fpr"] == 0.0
    assert f.loc["F", "precision"] == pytest.approx(2 / 3) and f.loc["M", "precision"] == 1.0
    assert f.loc["F", "npv"] == 1.0 and f.loc["M", "npv"] == 1.0
    assert f.loc["F", "prevalence"] == 0.5 and f.loc["M", "prevalence"] == 0.25
    # F and M are the same size: the majority reference is the first, F
    assert (f["reference"] == "F").all()
    assert f.loc["M", "selection_rate_disparity"] == pytest.approx(1 / 3)
    assert not f.loc["M", "selection_rate_parity"]
    assert f.loc["M", "tpr_disparity"] == 1.0 and f.loc["M", "tpr_parity"]
    assert f.loc["M", "precision_disparity"] == pytest.approx(1.5)
    assert f.loc["M", "fpr_disparity"] == 0.0 and not f.loc["M", "fpr_parity"]
    # Fisher exact test on selection: F 9 of 12 flagged vs M 3 of 12
    expected = fisher_exact([[3, 9], [9, 3]]).pvalue
    assert f.loc["M", "selection_rate_pvalue"] == pytest.approx(expected)
    assert np.isnan(f.loc["F", "selection_rate_pvalue"])  # the reference itself


def test_empty_group_and_no_flags_give_undefined_metrics():
    bands = ["low", "low", "high", "high"] * 5
    attrs = pd.DataFrame({"band": pd.Categorical(bands, categories=["low", "mid", "high"])})
    audit = fairness_audit(
        y_true=[0, 1, 0, 0] * 5, scores=[0.9, 0.1, 0.2, 0.3] * 5, attributes=attrs,
        threshold=0.5, min_group_size=5, n_boot=0,
    )
    f = audit.to_frame().set_index("group")
    # category order; the empty group is suppressed (counted in the last row, not named)
    assert f.index.tolist() == ["low", "high", _fairness.SUPPRESSED_GROUPS.format(n=1)]
    assert f.iloc[-1]["suppressed"] and pd.isna(f.iloc[-1]["size"])
    assert audit.params["suppressed_groups"] == {"band": 1}
    # high: no one flagged -> precision and fdr undefined; no positives -> tpr undefined
    assert np.isnan(f.loc["high", "precision"]) and np.isnan(f.loc["high", "fdr"])
    assert np.isnan(f.loc["high", "tpr"]) and f.loc["high", "selection_rate"] == 0.0


def test_missing_values_form_their_own_visible_group():
    attrs = pd.DataFrame({"disability": ["Y", None, np.nan, "N", "N"] * 5})
    f = fairness_audit(
        y_true=[1, 0, 1, 0, 1] * 5, scores=[0.9, 0.8, 0.1, 0.2, 0.7] * 5, attributes=attrs,
        threshold=0.5, min_group_size=5, n_boot=0,
    ).to_frame()
    assert f["group"].tolist() == ["N", "Y", "missing"]
    assert f.set_index("group").loc["missing", "size"] == 10
    assert int(f["size"].sum()) == 25  # nobody dropped
    relabelled = fairness_audit(
        y_true=[1, 0, 1, 0, 1] * 5, scores=[0.9, 0.8, 0.1, 0.2, 0.7] * 5, attributes=attrs,
        threshold=0.5, min_group_size=5, n_boot=0, missing_label="not recorded",
    ).to_frame()
    assert "not recorded" in relabelled["group"].tolist()


def test_missing_label_must_not_collide():
    attrs = pd.DataFrame({"imd": ["missing", None, "10-20%"] * 2})
    with pytest.raises(ConfigError, match=re.escape(_groups.MISSING_COLLIDES)) as info:
        fairness_audit(y_true=[0, 1, 0] * 2, scores=[0.1, 0.2, 0.3] * 2, attributes=attrs,
                       threshold=0.5)
    assert "missing_label=" in str(info.value)


def test_small_groups_are_suppressed(population):
    y, s, attrs = population
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs[["gender"]], threshold=0.4, min_group_size=100,
        n_boot=50,
    )
    f = audit.to_frame().set_index("group")
    assert "X" not in f.index  # counted, never named
    hidden = f.loc[_fairness.SUPPRESSED_GROUPS.format(n=1)]
    assert hidden["suppressed"] and pd.isna(hidden["size"])
    numeric = [c for c in f.columns if c not in ("attribute", "reference", "suppressed")]
    assert all(pd.isna(hidden[c]) for c in numeric)
    assert any("suppressed" in n for n in audit.notes)
    assert f.loc["F", "reference"] == "F"  # the largest group, never a suppressed one
    assert "X" not in audit.params["references"].values()


def test_reference_modes(population):
    y, s, attrs = population
    kw = dict(y_true=y, scores=s, attributes=attrs[["gender"]], threshold=0.4, n_boot=0)
    fav = fairness_audit(**kw, reference="most_favourable").to_frame().set_index("group")
    long = fairness_audit(**kw, reference="most_favourable").disparities()
    for metric, higher in DISPARITY_METRICS.items():
        values = fav[metric]
        best = values.idxmax() if higher else values.idxmin()
        ref = long[long["metric"] == metric]["reference"].iloc[0]
        assert ref == best
        assert fav.loc[best, f"{metric}_disparity"] == 1.0
        d = fav[f"{metric}_disparity"]
        assert ((d <= 1 + 1e-12) if higher else (d >= 1 - 1e-12)).all()
    named = fairness_audit(**kw, reference={"gender": "M"}).to_frame().set_index("group")
    assert (named["reference"] == "M").all()
    expected = named.loc["F", "tpr"] / named.loc["M", "tpr"]
    assert named.loc["F", "tpr_disparity"] == pytest.approx(expected)
    with pytest.raises(ConfigError, match=re.escape(_fairness.REFERENCE_UNKNOWN_GROUP)):
        fairness_audit(**kw, reference={"gender": "Z"})
    with pytest.raises(ConfigError, match=re.escape(_fairness.REFERENCE_INVALID)):
        fairness_audit(**kw, reference="minority")


def test_named_reference_that_is_suppressed_leaves_disparities_empty(population):
    y, s, attrs = population
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs[["gender"]], threshold=0.4, min_group_size=100,
        reference={"gender": "X"}, n_boot=0,
    )
    assert audit.to_frame()["tpr_disparity"].isna().all()
    assert any("no reference group" in n for n in audit.notes)


@st.composite
def audit_case(draw):
    n = draw(st.integers(8, 60))  # at most 3 values + missing: a share of distinct values <= 0.5
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    s = draw(st.lists(st.sampled_from([0.1, 0.4, 0.4, 0.6, 0.9]), min_size=n, max_size=n))
    g = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    flag = draw(st.one_of(st.just(("threshold", 0.5)), st.tuples(st.just("k"), st.integers(0, n))))
    return y, s, pd.DataFrame({"g": g}), flag


@given(audit_case())
def test_disparity_of_the_reference_to_itself_is_one(case):
    y, s, attrs, (kind, value) = case
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, min_group_size=5, n_boot=0, **{kind: value}
    )
    f = audit.to_frame()
    for (attribute, metric), ref in audit.params["references"].items():
        row = f[(f["attribute"] == attribute) & (f["group"] == ref)].iloc[0]
        if np.isnan(row[metric]):
            assert np.isnan(row[f"{metric}_disparity"])
        else:
            assert row[f"{metric}_disparity"] == 1.0
            assert row[f"{metric}_parity"]
        others = f[(f["attribute"] == attribute)]
        # every disparity is the group's metric over the reference's
        values = others[metric].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(values == row[metric], 1.0, values / row[metric])
        got = others[f"{metric}_disparity"].to_numpy(dtype=float)
        both_nan = np.isnan(expected) & np.isnan(got)
        assert np.all(both_nan | np.isclose(got, expected, equal_nan=False))
    # counts add up to the population, suppressed groups aside
    singles = f[f["attribute"] == "g"]
    shown = int(singles["size"].sum())
    assert shown == len(y) if not singles["suppressed"].any() else shown < len(y)


def test_a_group_audited_against_itself_is_at_parity():
    y = [1, 0, 1, 1, 0]
    s = [0.9, 0.2, 0.6, 0.3, 0.7]
    attrs = pd.DataFrame({"everyone": ["all"] * 5})
    f = fairness_audit(y_true=y, scores=s, attributes=attrs, k=2, min_group_size=5).to_frame()
    for metric in DISPARITY_METRICS:
        assert f[f"{metric}_disparity"].iloc[0] == 1.0
        assert f[f"{metric}_disparity_ci_low"].iloc[0] == 1.0


def test_ties_at_the_cut_give_expected_counts_over_every_order():
    # four students tied for the last 2 of 3 places; four low scorers make groups of 5
    y = np.array([1, 0, 1, 0, 1, 0, 0, 1, 0, 1])
    s = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.0, 0.0, 0.0, 0.0])
    g = np.array(["a", "a", "b", "b", "a", "b", "a", "a", "b", "b"])
    audit = fairness_audit(
        y_true=y, scores=s, attributes=pd.DataFrame({"g": g}), k=3, min_group_size=5, n_boot=0
    )
    f = audit.to_frame().set_index("group")
    # brute force: average the group confusion counts over every order of the tied students
    tied = np.flatnonzero(s == 0.5)
    totals = {label: np.zeros(4) for label in ("a", "b")}
    orders = list(itertools.permutations(tied))
    for order in orders:
        flagged = np.zeros(len(y), dtype=bool)
        flagged[0] = True
        flagged[list(order[:2])] = True
        for label in ("a", "b"):
            m = g == label
            totals[label] += [
                (flagged & m & (y == 1)).sum(),
                (flagged & m & (y == 0)).sum(),
                (~flagged & m & (y == 1)).sum(),
                (~flagged & m & (y == 0)).sum(),
            ]
    for label in ("a", "b"):
        assert f.loc[label, ["tp", "fp", "fn", "tn"]].to_numpy(dtype=float) == pytest.approx(
            totals[label] / len(orders)
        )
    assert "counted as expected values" in audit.params["rule"]


def test_bootstrap_intervals_match_binomial_sampling_error(rng):
    n = 4000
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.random(n)
    attrs = pd.DataFrame({"g": ["a"] * (n // 2) + ["b"] * (n // 2)})
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.7, n_boot=2000, random_state=1
    )
    f = audit.to_frame().set_index("group")
    for label in ("a", "b"):
        p = f.loc[label, "selection_rate"]
        half = 1.96 * np.sqrt(p * (1 - p) / (n // 2))
        assert f.loc[label, "selection_rate_ci_low"] == pytest.approx(p - half, abs=0.004)
        assert f.loc[label, "selection_rate_ci_high"] == pytest.approx(p + half, abs=0.004)
    # reproducible for a seed, different for another
    again = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.7, n_boot=2000, random_state=1
    ).to_frame()
    pd.testing.assert_frame_equal(again.set_index("group"), f)
    other = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold=0.7, n_boot=2000, random_state=2
    ).to_frame()
    assert not np.allclose(other["tpr_ci_low"], f["tpr_ci_low"].to_numpy())


def test_more_students_give_narrower_intervals(rng):
    def width(n):
        y = (rng.random(n) < 0.3).astype(int)
        s = rng.random(n)
        attrs = pd.DataFrame({"g": rng.choice(["a", "b"], n)})
        f = fairness_audit(y_true=y, scores=s, attributes=attrs, threshold=0.5, n_boot=400,
                           reference={"g": "a"})
        f = f.to_frame().set_index("group")
        return float(f.loc["b", "tpr_disparity_ci_high"] - f.loc["b", "tpr_disparity_ci_low"])

    assert width(20_000) < width(400)


def test_holm_adjustment():
    p = np.array([[0.01, 0.04], [0.03, np.nan]])
    adjusted = _fairness._holm(p)
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert adjusted[0, 0] == pytest.approx(0.03)
    assert adjusted[1, 0] == pytest.approx(0.06)
    assert adjusted[0, 1] == pytest.approx(0.06)
    assert np.isnan(adjusted[1, 1])


def test_holm_adjusted_audit_is_never_smaller(population):
    y, s, attrs = population
    kw = dict(y_true=y, scores=s, attributes=attrs, threshold=0.4, n_boot=0)
    raw = fairness_audit(**kw).to_frame()
    adj = fairness_audit(**kw, p_adjust="holm").to_frame()
    for metric in DISPARITY_METRICS:
        a = raw[f"{metric}_pvalue"].to_numpy(dtype=float)
        b = adj[f"{metric}_pvalue"].to_numpy(dtype=float)
        ok = ~np.isnan(a)
        assert np.all(b[ok] >= a[ok] - 1e-15)


def test_summary_dict_and_long_format(population):
    y, s, attrs = population
    audit = fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.2, n_boot=100)
    summary = audit.summary()
    assert set(summary["verdict"]) <= {"pass", "fail", "undefined"}
    assert len(summary) == 3 * len(DISPARITY_METRICS)  # gender, disability, their pair
    long = audit.disparities()
    assert len(long) == len(audit.frame) * len(DISPARITY_METRICS)
    text = json.dumps(audit.to_dict(), allow_nan=False)
    assert "gender & disability" in text
    assert "fail" in repr(audit) or "0 of" in repr(audit)


def test_intersections_options(population):
    y, s, attrs = population
    kw = dict(y_true=y, scores=s, threshold=0.4, n_boot=0)
    three = attrs.assign(band=np.where(s > 0.5, "hi", "lo"))
    assert set(fairness_audit(**kw, attributes=three, intersections=None).frame["attribute"]) == {
        "gender", "disability", "band"}
    pairs = fairness_audit(**kw, attributes=three).frame["attribute"].unique()
    assert len(pairs) == 3 + 3
    full = fairness_audit(**kw, attributes=three, intersections="all").frame["attribute"].unique()
    assert "gender & disability & band" in full
    chosen = fairness_audit(**kw, attributes=three, intersections=[("gender", "band")])
    assert "gender & band" in set(chosen.frame["attribute"])
    with pytest.raises(ConfigError, match=re.escape(_groups.INTERSECTIONS_INVALID)):
        fairness_audit(**kw, attributes=three, intersections="triples")
    with pytest.raises(ConfigError, match="must name audit attributes"):
        fairness_audit(**kw, attributes=three, intersections=[("gender", "age")])


def test_errors(population):
    y, s, attrs = population
    with pytest.raises(ConfigError, match=re.escape(_inputs.K_AND_THRESHOLD)):
        fairness_audit(y_true=y, scores=s, attributes=attrs)
    with pytest.raises(SchemaError, match=re.escape(_fairness.ATTRIBUTES_INVALID)):
        fairness_audit(y_true=y, scores=s, attributes=attrs.to_numpy(), k=0.1)
    message = _inputs.LENGTHS_DIFFER.format(a="y_true", b="attributes")
    with pytest.raises(SchemaError, match=re.escape(message)):
        fairness_audit(y_true=y, scores=s, attributes=attrs.iloc[:10], k=0.1)
    for bad in [(1.2, 0.8), 0, (0.8,), "wide"]:
        with pytest.raises(ConfigError, match=re.escape(_fairness.TOLERANCE_INVALID)):
            fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, tolerance=bad)
    with pytest.raises(ConfigError, match=re.escape(_fairness.MIN_GROUP_SIZE_INVALID)):
        fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, min_group_size=-1)
    with pytest.raises(ConfigError, match=re.escape(_fairness.N_BOOT_INVALID)):
        fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, n_boot=1.5)
    with pytest.raises(ConfigError, match=re.escape(_fairness.CI_INVALID)):
        fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, ci=95)
    with pytest.raises(ConfigError, match=re.escape(_fairness.P_ADJUST_INVALID)):
        fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, p_adjust="bonferroni")


def test_tolerance_single_number_is_symmetric_on_ratio_scale(population):
    y, s, attrs = population
    audit = fairness_audit(y_true=y, scores=s, attributes=attrs, k=0.1, tolerance=0.8, n_boot=0)
    assert audit.params["tolerance"] == (0.8, 1.25)


def test_per_group_thresholds(population):
    y, s, attrs = population
    cuts = {"F": 0.3, "M": 0.45, "X": 0.5}
    audit = fairness_audit(
        y_true=y, scores=s, attributes=attrs, threshold={"gender": cuts}, min_group_size=5,
        n_boot=0,
    )
    f = audit.to_frame()
    g = f[f["attribute"] == "gender"].set_index("group")
    for label, cut in cuts.items():
        m = (attrs["gender"] == label).to_numpy()
        assert g.loc[label, "selection_rate"] == pytest.approx((s[m] >= cut).mean())
    # the same flags seen through the other attribute
    flags = s >= attrs["gender"].map(cuts).to_numpy()
    d = f[f["attribute"] == "disability"].set_index("group")
    assert d.loc["Y", "flagged"] == flags[(attrs["disability"] == "Y").to_numpy()].sum()
    assert "per-group thresholds on gender" in audit.params["rule"]
    json.dumps(audit.to_dict(), allow_nan=False)
    message = re.escape(_fairness.GROUP_THRESHOLDS_INVALID)
    with pytest.raises(ConfigError, match=message) as info:
        fairness_audit(y_true=y, scores=s, attributes=attrs, threshold={"gender": {"F": 0.3}})
    assert "no threshold for 'M', 'X'" in str(info.value)
    with pytest.raises(ConfigError, match=message):
        fairness_audit(y_true=y, scores=s, attributes=attrs, threshold={"age": {"F": 0.3}})
    with pytest.raises(ConfigError, match=message):
        fairness_audit(
            y_true=y, scores=s, attributes=attrs,
            threshold={"disability": {"N": 0.3, "Y": 0.3}},  # no threshold for "missing"
        )


def test_flags_from_any_rule(population):
    y, s, attrs = population
    rule = (s > 0.35) & (attrs["gender"] != "X").to_numpy()
    audit = fairness_audit(y_true=y, scores=None, attributes=attrs, flags=rule, n_boot=0,
                           min_group_size=5)
    same = fairness_audit(
        y_true=y, scores=np.where(rule, 1.0, 0.0), attributes=attrs, threshold=0.5, n_boot=0,
        min_group_size=5,
    )
    cols = ["tp", "fp", "fn", "tn", "selection_rate", "tpr_disparity", "fpr_pvalue"]
    pd.testing.assert_frame_equal(audit.to_frame()[cols], same.to_frame()[cols])
    assert audit.params["rule"] == "flags given"
    with pytest.raises(ConfigError, match=re.escape(_fairness.FLAG_RULES)):
        fairness_audit(y_true=y, scores=s, attributes=attrs, flags=rule, k=0.1)
    with pytest.raises(SchemaError, match=re.escape(_inputs.LABELS_NOT_BINARY)):
        fairness_audit(y_true=y, scores=None, attributes=attrs, flags=s)
