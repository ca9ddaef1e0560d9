"""Calibrator: numpy-only probability maps, checked against obvious references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression

from studentprofile.errors import ConfigError, ModelIntegrityError
from studentprofile.models import Calibrator


def _expit(z):
    return 1.0 / (1.0 + np.exp(-z))


finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, st.integers(0, 30), elements=finite))
def test_identity_binary_is_the_logistic_link(raw):
    p = Calibrator.identity(2).transform(raw)
    assert p.shape == (len(raw), 2)
    np.testing.assert_allclose(p[:, 1], _expit(raw), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)


@given(arrays(np.float64, st.tuples(st.integers(0, 20), st.just(3)), elements=finite))
def test_identity_multiclass_is_softmax(raw):
    p = Calibrator.identity(3).transform(raw)
    e = np.exp(raw)
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-12)


def test_sigmoid_recovers_the_true_map_and_matches_a_generic_optimiser():
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 2, 20_000)
    y = (rng.uniform(size=raw.size) < _expit(0.6 * raw - 0.8)).astype(int)
    cal = Calibrator.fit(raw, y, method="sigmoid", n_classes=2)
    a, b = cal.params[0]["a"], cal.params[0]["b"]
    assert abs(a - 0.6) < 0.05 and abs(b + 0.8) < 0.06

    # the same objective (Platt's smoothed targets) minimised by scipy
    n1, n0 = y.sum(), (1 - y).sum()
    t = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))

    def loss(ab):
        z = ab[0] * raw + ab[1]
        r = _expit(z) - t
        value = np.sum(t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z))
        return value, np.array([np.sum(r * raw), np.sum(r)])

    ref = minimize(loss, [1.0, 0.0], jac=True, method="BFGS", options={"gtol": 1e-8})
    # BFGS stops at "precision loss" once the gradient is ~1e-6 on a loss of ~1e4: converged
    np.testing.assert_allclose([a, b], ref.x, atol=1e-5)
    assert np.abs(loss([a, b])[1]).max() < 1e-6 * loss([a, b])[0]
    np.testing.assert_allclose(cal.transform(raw)[:, 1], _expit(a * raw + b))


def test_sigmoid_stays_finite_on_a_separable_slice():
    raw = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    cal = Calibrator.fit(raw, np.array([0, 0, 0, 1, 1, 1]), method="sigmoid", n_classes=2)
    p = cal.transform(raw)[:, 1]
    assert np.all(np.isfinite(p)) and np.all(np.diff(p) > 0)
    assert 0 < p[0] < 0.5 < p[-1] < 1


def test_isotonic_equals_sklearn_isotonic_regression():
    rng = np.random.default_rng(5)
    raw = rng.normal(0, 1.5, 3000)
    y = (rng.uniform(size=raw.size) < _expit(raw)).astype(int)
    w = rng.uniform(0.5, 2.0, raw.size)
    cal = Calibrator.fit(raw, y, method="isotonic", n_classes=2, sample_weight=w)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y, sample_weight=w)
    probe = np.concatenate([raw, [-100.0, 100.0], rng.normal(0, 3, 500)])
    np.testing.assert_allclose(cal.transform(probe)[:, 1], ref.predict(probe), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_multiclass_one_vs_rest_then_normalised(method):
    rng = np.random.default_rng(8)
    raw = rng.normal(size=(2000, 3))
    y = np.argmax(raw + rng.gumbel(size=raw.shape), axis=1)
    cal = Calibrator.fit(raw, y, method=method, n_classes=3)
    p = cal.transform(raw)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    # one-vs-rest maps, normalised: reproduce by hand from the binary calibrators
    parts = np.column_stack(
        [
            Calibrator.fit(raw[:, j], (y == j).astype(int), method=method, n_classes=2)
            .transform(raw[:, j])[:, 1]
            for j in range(3)
        ]
    )
    expected = parts / parts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_all_zero_isotonic_row_becomes_uniform():
    cal = Calibrator(
        method="isotonic", n_classes=3, params=[{"x": [0.0, 1.0], "y": [0.0, 0.0]}] * 3
    )
    np.testing.assert_allclose(cal.transform(np.zeros((2, 3))), 1 / 3)


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_json_round_trip_is_exact(method):
    rng = np.random.default_rng(1)
    raw = rng.normal(size=500)
    y = (rng.uniform(size=500) < _expit(raw)).astype(int)
    cal = Calibrator.fit(raw, y, method=method, n_classes=2)
    back = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back == cal
    probe = rng.normal(size=100)
    assert np.array_equal(back.transform(probe), cal.transform(probe))


def test_bad_method_and_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="calibration method must be one of"):
        Calibrator(method="platt", n_classes=2)
    with pytest.raises(ConfigError, match="needs 1 parameter set"):
        Calibrator(method="sigmoid", n_classes=2, params=[])
    with pytest.raises(ConfigError, match=r"takes raw scores of shape \(n,\)"):
        Calibrator.identity(2).transform(np.zeros((3, 2)))
    with pytest.raises(ConfigError, match=r"takes raw scores of shape \(n, 3\)"):
        Calibrator.identity(3).transform(np.zeros(3))
    with pytest.raises(ConfigError, match="x sorted"):
        Calibrator(method="isotonic", n_classes=2, params=[{"x": [1.0, 0.0], "y": [0.0, 1.0]}])


def test_positional_arguments_are_deprecated_but_still_work():
    # keyword-only constructor (issue 13.12); the positional form warns for one release
    with pytest.warns(FutureWarning, match=r"pass them by name: Calibrator\(method=\.\.\."):
        old = Calibrator("sigmoid", 2, [{"a": 0.5, "b": -1.0}])
    assert old == Calibrator(method="sigmoid", n_classes=2, params=[{"a": 0.5, "b": -1.0}])
    with pytest.raises(TypeError, match="needs the keyword arguments method= and n_classes="):
        Calibrator()
    with (
        pytest.warns(FutureWarning),
        pytest.raises(TypeError, match="multiple values for argument 'method'"),
    ):
        Calibrator("sigmoid", method="none", n_classes=2)


def test_malformed_dict_is_a_model_integrity_error():
    with pytest.raises(ModelIntegrityError, match="calibration parameters are malformed"):
        Calibrator.from_dict({"method": "sigmoid", "n_classes": 2, "params": [{"a": "x"}]})
    with pytest.raises(ModelIntegrityError, match="calibration parameters are malformed"):
        Calibrator.from_dict({"n_classes": 2})


def test_sigmoid_never_reverses_the_order(caplog):
    """A slice where higher scores are rarer positives must not flip the ranking."""
    rng = np.random.default_rng(2)
    raw = rng.normal(size=2000)
    y = (rng.uniform(size=raw.size) < _expit(-1.0 * raw - 3)).astype(int)
    cal = Calibrator.fit(raw, y, method="sigmoid", n_classes=2)
    assert cal.params[0]["a"] == 1.0
    p = cal.transform(np.sort(raw))[:, 1]
    assert np.all(np.diff(p) >= 0)
    # the intercept matches the base rate of the slice
    assert abs(cal.transform(raw)[:, 1].mean() - y.mean()) < 0.01
    assert "non-increasing map" in caplog.text
