"""Drift: KS against scipy, PSI by hand, the monitor's statuses and warnings."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from studentprofile.errors import ConfigError, DataQualityWarning, NotFittedError, SchemaError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning import DriftMonitor, ks_2sample, psi

sample = st.lists(
    st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0.0, 1.0, 2.0]),
              st.sampled_from([math.nan, math.inf, -math.inf])),
    min_size=1, max_size=60,
)


@given(sample, sample)
def test_ks_matches_scipy(a, b):
    a, b = np.array(a), np.array(b)
    fa, fb = a[~np.isnan(a)], b[~np.isnan(b)]
    d, p = ks_2sample(a, b)
    if fa.size == 0 or fb.size == 0:
        assert math.isnan(d) and math.isnan(p)
        return
    en = fa.size * fb.size / (fa.size + fb.size)
    if round(en) == 0:  # one value against one: scipy divides by zero; no evidence either way
        assert p == 1.0
        assert d == (0.0 if fa[0] == fb[0] else 1.0)
        return
    ref = ks_2samp(fa, fb, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_ks_by_hand():
    assert ks_2sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])[0] == 0.5
    assert ks_2sample([1.0, 2.0], [1.0, 2.0]) == (0.0, 1.0)


def test_psi_by_hand():
    # reference quartile edges of 1..8 with 2 bins: one inner edge at the median 4.5
    ref = np.arange(1.0, 9.0)
    cur = np.array([1.0, 1.0, 1.0, 9.0, np.nan])
    # bins (-inf, 4.5], (4.5, inf), missing: ref shares .5 .5 0; current .6 .2 .2
    r = np.array([0.5, 0.5, 1e-4])
    c = np.array([0.6, 0.2, 0.2])
    want = float(np.sum((c - r) * np.log(c / r)))
    assert psi(ref, cur, bins=2) == pytest.approx(want, rel=1e-12)
    assert psi(ref, ref) == 0.0


def test_psi_reads_infinities_into_the_end_bins():
    ref = np.arange(10.0)
    shifted = np.r_[np.full(5, np.inf), np.arange(5.0)]
    plain = np.r_[np.full(5, 100.0), np.arange(5.0)]
    assert psi(ref, shifted) == pytest.approx(psi(ref, plain))
    assert psi(ref, shifted) > 0.25


def test_psi_errors():
    with pytest.raises(SchemaError, match="needs values in both samples"):
        psi([], [1.0])
    with pytest.raises(ConfigError, match="bins must be an integer >= 2"):
        psi([1.0], [1.0], bins=1)
    with pytest.raises(SchemaError, match="reference must be numeric"):
        psi(["a", "b"], [1.0])


@pytest.fixture
def periods():
    rng = np.random.default_rng(7)
    n = 3000
    ref = pd.DataFrame({
        "attendance": rng.beta(8, 2, n),
        "clicks": rng.poisson(5, n).astype(float),
        "programme": rng.choice(["law", "maths"], n),
    })
    cur = pd.DataFrame({
        "attendance": rng.beta(8, 2, 800),
        "clicks": rng.poisson(9, 800).astype(float),  # the LMS changed: more clicks
        "programme": rng.choice(["law", "maths", "art"], 800, p=[0.2, 0.2, 0.6]),
    })
    return ref, cur, rng


def test_monitor_finds_what_moved(periods):
    ref, cur, rng = periods
    infos = {"clicks": FeatureInfo("clicks", "behavioral", "lms_click", "count", "7d",
                                   "LMS clicks over the last 7 days")}
    monitor = DriftMonitor().fit(ref, scores=rng.random(len(ref)), feature_info=infos)
    with pytest.warns(DataQualityWarning, match=r"2 of 4 monitored column\(s\) drifted"):
        report = monitor.check(cur, scores=rng.random(len(cur)))
    status = dict(zip(report["column"], report["status"], strict=True))
    assert status == {"attendance": "stable", "clicks": "drift", "programme": "drift",
                      "score": "stable"}
    row = report.set_index("column").loc["clicks"]
    assert row["phrase"] == "LMS clicks over the last 7 days"
    assert row["family"] == "behavioral"
    want_d = ks_2samp(ref["clicks"], cur["clicks"], method="asymp").statistic
    assert row["ks"] == pytest.approx(want_d)
    assert math.isnan(report.set_index("column").loc["programme", "ks"])


def test_monitor_watch_band_and_no_warning_when_stable(periods):
    ref, _, rng = periods
    monitor = DriftMonitor(psi_thresholds=(0.001, 10.0), ks_threshold=1.0).fit(ref[["clicks"]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = monitor.check(pd.DataFrame({"clicks": rng.poisson(5.3, 3000).astype(float)}))
    assert report["status"].tolist() == ["watch"]


def test_missing_values_shift_is_seen(periods):
    ref, cur, _ = periods
    cur = cur.copy()
    cur.loc[cur.index[:400], "attendance"] = np.nan  # half the feed went missing
    report = DriftMonitor(warn=False).fit(ref).check(cur)
    row = report.set_index("column").loc["attendance"]
    assert row["missing_current"] == pytest.approx(0.5)
    assert row["missing_reference"] == 0.0
    assert row["status"] == "drift"


def test_check_dates_warns_once(periods):
    ref, cur, _ = periods
    both = pd.concat([ref.iloc[:800], cur], ignore_index=True)
    both.index = pd.MultiIndex.from_arrays(
        [np.arange(len(both)), np.r_[np.full(800, 10.0), np.full(len(cur), 20.0)]],
        names=["student_id", "as_of"])
    monitor = DriftMonitor().fit(ref)
    with pytest.warns(DataQualityWarning) as record:
        out = monitor.check_dates(both)
    assert len(record) == 1
    assert set(out["as_of"]) == {10.0, 20.0}
    assert (out[out["as_of"] == 10.0]["status"] == "stable").all()


def test_monitor_errors(periods):
    ref, cur, _ = periods
    with pytest.raises(NotFittedError, match="not fitted"):
        DriftMonitor().check(cur)
    with pytest.raises(ConfigError, match="psi_thresholds"):
        DriftMonitor(psi_thresholds=(0.3, 0.1)).fit(ref)
    monitor = DriftMonitor(warn=False).fit(ref, scores=np.zeros(len(ref)))
    with pytest.raises(SchemaError, match="scores are needed"):
        monitor.check(cur)
    with pytest.raises(SchemaError, match="lack monitored columns"):
        monitor.check(cur.drop(columns="clicks"), scores=np.zeros(len(cur)))
    with pytest.raises(SchemaError, match="one value per row"):
        DriftMonitor().fit(ref, scores=np.zeros(3))
