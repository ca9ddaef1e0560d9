"""Explanations: exact SHAP values, sums, reasons with governance, JSON output and plots."""

from __future__ import annotations

import itertools
import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

from studentprofile.errors import ConfigError, DependencyError, SchemaError
from studentprofile.explain import Explanations, reason_sentence
from studentprofile.features._info import FeatureInfo
from studentprofile.models import RiskModel

INFOS = {
    "att_rate_30d": FeatureInfo(
        name="att_rate_30d", family="behavioral", kind="class_attendance", aggregate="mean",
        window="30d", phrase="class attendance over the last 30 days", unit="share",
    ),
    "lms_clicks_7d": FeatureInfo(
        name="lms_clicks_7d", family="behavioral", kind="lms_click", aggregate="count",
        window="7d", phrase="LMS clicks in the last 7 days", unit="count",
    ),
    "score_mean": FeatureInfo(
        name="score_mean", family="academic", kind="assessment_score", aggregate="mean",
        window="all", phrase="average assessment score", unit="score",
    ),
    "counselling_visits": FeatureInfo(
        name="counselling_visits", family="wellbeing", kind="counselling", aggregate="count",
        window="all", phrase="counselling visits", unit="count", sensitivity="sensitive",
    ),
    "gender": FeatureInfo(
        name="gender", family="static", kind="gender", aggregate="value", window="static",
        phrase="gender", unit="category", sensitivity="audit",
    ),
}


def make_data(n_students=150, n_weeks=4, seed=0):
    rng = np.random.default_rng(seed)
    sid = np.repeat([f"s{i:03d}" for i in range(n_students)], n_weeks)
    as_of = pd.to_datetime("2024-09-02") + pd.to_timedelta(
        np.tile(np.arange(n_weeks) * 7, n_students), unit="D")
    n = len(sid)
    X = pd.DataFrame(
        {
            "att_rate_30d": rng.beta(4, 2, n),
            "lms_clicks_7d": rng.poisson(15, n).astype(float),
            "score_mean": rng.normal(62, 12, n),
            "counselling_visits": rng.poisson(0.6, n).astype(float),
            "gender": pd.array(rng.choice(["F", "M"], n), dtype="str"),
            "programme": pd.array(rng.choice(["arts", "law", "science"], n), dtype="str"),
        },
        index=pd.MultiIndex.from_arrays([sid, as_of], names=["student_id", "as_of"]),
    )
    X.loc[rng.uniform(size=n) < 0.08, "lms_clicks_7d"] = np.nan
    logit = (2.0 - 4 * X["att_rate_30d"] - 0.03 * (X["score_mean"] - 62)
             + 0.7 * X["counselling_visits"] + 0.4 * (X["programme"] == "arts"))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, pd.Series(y.to_numpy(), index=X.index)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    # gender (sensitivity="audit") kept as a feature by name: the exactness tests cover a
    # governed feature too; reasons still leave it out unless reasons(allow=...) names it
    return RiskModel(allow_features=["gender"]).fit(X, y, feature_info=INFOS)


@pytest.fixture(scope="module")
def multi(data):
    X, y = data
    labels = np.where(y == 1, "dropout",
                      np.where(X["score_mean"] > 65, "graduate", "enrolled"))
    return RiskModel(allow_features=["gender"]).fit(X, labels, feature_info=INFOS)


@pytest.fixture(scope="module")
def ex(model, data):
    X, _ = data
    return model.explain(X)


# ---------------------------------------------------------------------------------- exactness
def test_values_add_up_to_the_raw_output(model, multi, data):
    X, _ = data
    e = model.explain(X)
    assert e.values.shape == (len(X), X.shape[1])
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_value, model.predict_raw(X),
                               rtol=0, atol=1e-9)
    np.testing.assert_array_equal(e.raw, model.predict_raw(X))
    np.testing.assert_array_equal(e.probability, model.predict_proba(X)[:, 1])
    m = multi.explain(X)
    assert m.values.shape == (len(X), X.shape[1], 3) and m.base_value.shape == (3,)
    np.testing.assert_allclose(m.values.sum(axis=1) + m.base_value, multi.predict_raw(X),
                               rtol=0, atol=1e-9)


def test_equal_to_shap_tree_explainer(model, multi, data):
    import shap

    X, _ = data
    prepared = model._prepare(X)
    for est in (model, multi):
        ours = est.explain(X)
        theirs = shap.TreeExplainer(est.booster_)(prepared)
        np.testing.assert_allclose(ours.values, theirs.values, rtol=0, atol=1e-9)
        np.testing.assert_allclose(np.broadcast_to(ours.base_value, theirs.base_values.shape),
                                   theirs.base_values, rtol=0, atol=1e-9)


def _numeric_model(k=2, seed=3):
    rng = np.random.default_rng(seed)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    X.loc[rng.uniform(size=n) < 0.15, "b"] = np.nan
    X.loc[rng.uniform(size=n) < 0.1, "c"] = 0.0
    z = X["a"] + np.nan_to_num(X["b"], nan=1.0) - 0.5 * X["c"] + rng.normal(size=n)
    y = np.digitize(z, np.quantile(z, np.linspace(0, 1, k + 1)[1:-1]))
    model = RiskModel(n_estimators=15, num_leaves=7, validation_fraction=None).fit(X, y)
    return model, X


@pytest.mark.parametrize("k", [2, 3])
def test_equal_to_shaps_own_treeshap_algorithm(k):
    """shap's C++ TreeSHAP on the converted trees, not LightGBM's: an independent check."""
    import shap

    model, X = _numeric_model(k)
    converted = shap.TreeExplainer(model.booster_).model.trees
    trees = [
        {key: getattr(t, key) for key in ("children_left", "children_right", "children_default",
                                          "features", "thresholds", "values",
                                          "node_sample_weight")}
        for t in converted
    ]
    theirs = []
    for j in range(k if k > 2 else 1):
        mine = trees[j::k] if k > 2 else trees
        explainer = shap.TreeExplainer({"trees": mine, "base_offset": 0.0},
                                       feature_perturbation="tree_path_dependent")
        assert explainer.model.model_type == "internal"
        theirs.append(explainer.shap_values(X.to_numpy()))
    ours = model.explain(X)
    expected = theirs[0] if k == 2 else np.stack(theirs, axis=-1)
    np.testing.assert_allclose(ours.values, expected, rtol=0, atol=1e-9)


def _goes_left(node, v):
    missing, default_left = node["missing_type"], node["default_left"]
    if math.isnan(v):
        if missing == "NaN":
            return default_left
        v = 0.0
    if missing == "Zero" and abs(v) <= 1e-35:
        return default_left
    return v <= node["threshold"]


def _cover(node):
    return node["internal_count"] if "internal_count" in node else node["leaf_count"]


def _expectation(node, x, subset):
    """E[tree(x) | x_S] as path-dependent TreeSHAP defines it (cover-weighted)."""
    if "leaf_value" in node:
        return node["leaf_value"]
    left, right = node["left_child"], node["right_child"]
    if node["split_feature"] in subset:
        return _expectation(left if _goes_left(node, x[node["split_feature"]]) else right,
                            x, subset)
    wl, wr = _cover(left), _cover(right)
    return (wl * _expectation(left, x, subset) + wr * _expectation(right, x, subset)) / (wl + wr)


def test_equal_to_brute_force_shapley_values():
    """Exact Shapley values by enumerating every coalition: the obviously correct reference."""
    model, X = _numeric_model(2)
    trees = [t["tree_structure"] for t in model.booster_.dump_model()["tree_info"]]
    rows = X.head(25).to_numpy()
    p = rows.shape[1]
    expected = np.zeros((len(rows), p))
    for r, x in enumerate(rows):
        for i in range(p):
            others = [j for j in range(p) if j != i]
            for size in range(p):
                weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
                for subset in itertools.combinations(others, size):
                    with_i = sum(_expectation(t, x, set(subset) | {i}) for t in trees)
                    without = sum(_expectation(t, x, set(subset)) for t in trees)
                    expected[r, i] += weight * (with_i - without)
    base = sum(_expectation(t, rows[0], set()) for t in trees)
    ours = model.explain(X.head(25))
    np.testing.assert_allclose(ours.values, expected, rtol=0, atol=1e-9)
    assert ours.base_value == pytest.approx(base, abs=1e-9)


# ---------------------------------------------------------------------------------- sums
def test_by_family_and_by_kind(ex):
    fam = ex.by_family()
    assert list(fam.columns) == ["behavioral", "academic", "wellbeing", "static"]
    np.testing.assert_allclose(fam["behavioral"], ex.values[:, 0] + ex.values[:, 1])
    np.testing.assert_allclose(fam["static"], ex.values[:, 4] + ex.values[:, 5])
    np.testing.assert_allclose(fam.sum(axis=1) + ex.base_value, ex.raw, atol=1e-9)
    kind = ex.by_kind()
    assert list(kind.columns) == ["class_attendance", "lms_click", "assessment_score",
                                  "counselling", "gender", "programme"]
    assert kind.index.equals(ex.data.index)


def test_multiclass_needs_a_class(multi, data):
    X, _ = data
    m = multi.explain(X.head(5))
    with pytest.raises(ConfigError, match=r"call \.for_class\(label\) first"):
        m.reasons()
    d = m.for_class("dropout")
    j = list(multi.classes_).index("dropout")
    np.testing.assert_array_equal(d.values, m.values[:, :, j])
    np.testing.assert_array_equal(d.probability, multi.predict_proba(X.head(5))[:, j])
    assert "the estimated chance of dropout" in d.reasons(top=1)[0]["reasons"][0]["sentence"]
    with pytest.raises(ConfigError, match="one of the model's classes"):
        m.for_class("expelled")


# ---------------------------------------------------------------------------------- reasons
def _hand_made():
    data = pd.DataFrame(
        {
            "att_rate_30d": [0.62, 0.95],
            "score_mean": [48.0, np.nan],
            "counselling_visits": [4.0, 0.0],
            "gender": pd.Categorical(["F", "M"]),
            "lms_clicks_7d": [3.0, 40.0],
        },
        index=pd.Index(["ana", "ben"], name="student_id"),
    )
    values = np.array([
        [0.50, 0.30, 0.90, 0.70, -0.10],
        [-0.40, 0.20, -0.05, 0.00, -0.30],
    ])
    reference = {"att_rate_30d": 0.91, "score_mean": 60.0, "counselling_visits": 0.0,
                 "gender": "M", "lms_clicks_7d": 18.0}
    return Explanations(values, -1.5, data=data, feature_info=INFOS, reference=reference)


def test_reasons_rank_word_and_exclude_governed_features():
    ex = _hand_made()
    out = ex.reasons(top=3)
    assert [r["student_id"] for r in out] == ["ana", "ben"]
    ana = out[0]["reasons"]
    # counselling (0.90, sensitive) and gender (0.70, audit) are left out
    assert [r["feature"] for r in ana] == ["att_rate_30d", "score_mean", "lms_clicks_7d"]
    assert ana[0]["sentence"] == (
        "Class attendance over the last 30 days was 62% (cohort median 91%); "
        "this raised the risk estimate.")
    assert ana[0]["value"] == 0.62 and ana[0]["reference"] == 0.91
    assert ana[0]["direction"] == "raised" and ana[0]["contribution"] == 0.5
    assert ana[2]["direction"] == "lowered"
    ben = out[1]["reasons"]
    assert [r["feature"] for r in ben] == ["att_rate_30d", "lms_clicks_7d", "score_mean"]
    assert ben[2]["value"] is None
    assert ben[2]["sentence"] == (
        "Average assessment score: no records (cohort median 60); this raised the risk "
        "estimate.")
    assert out[0]["raw"] == pytest.approx(-1.5 + 2.3)


def test_opt_in_by_name_only():
    ex = _hand_made()
    with_sensitive = ex.reasons(top=2, allow=["counselling_visits"])[0]["reasons"]
    assert [r["feature"] for r in with_sensitive] == ["counselling_visits", "att_rate_30d"]
    with_audit = ex.reasons(top=2, allow="gender")[0]["reasons"]
    assert [r["feature"] for r in with_audit] == ["gender", "att_rate_30d"]
    assert with_audit[0]["sentence"] == (
        "Gender was F (most common M); this raised the risk estimate.")
    with pytest.raises(ConfigError, match=r"allow names features[\s\S]*'counseling'"):
        ex.reasons(allow=["counseling"])


def test_direction_filters_and_top():
    ex = _hand_made()
    raised = ex.reasons(top=5, direction="raised")
    assert [r["feature"] for r in raised[1]["reasons"]] == ["score_mean"]
    lowered = ex.reasons(top=5, direction="lowered")
    assert [r["feature"] for r in lowered[0]["reasons"]] == ["lms_clicks_7d"]
    assert [r["feature"] for r in lowered[1]["reasons"]] == ["att_rate_30d", "lms_clicks_7d"]
    # zero contributions never become reasons
    assert all(r["contribution"] != 0 for r in ex.reasons(top=5, allow=["gender"])[1]["reasons"])
    with pytest.raises(ConfigError, match="top must be a positive integer"):
        ex.reasons(top=0)
    with pytest.raises(ConfigError, match="direction must be one of"):
        ex.reasons(direction="up")


def test_reasons_as_frame(ex):
    frame = ex.reasons(top=2, as_frame=True)
    assert list(frame.columns[:3]) == ["student_id", "as_of", "rank"]
    # two per student, fewer when a student's value equals the reference (not a reason)
    assert len(frame) == sum(len(r["reasons"]) for r in ex.reasons(top=2)) > 1.9 * len(ex)
    assert not frame["feature"].isin(["counselling_visits", "gender"]).any()


def test_model_reasons_use_training_medians_or_the_batch(model, data):
    X, _ = data
    first = model.explain(X.head(8))
    ref = first.reasons(top=6, allow=["gender", "counselling_visits"])[0]["reasons"]
    by_feature = {r["feature"]: r for r in ref}
    assert by_feature["att_rate_30d"]["reference"] == pytest.approx(X["att_rate_30d"].median())
    batch = model.explain(X.head(8), reference="batch")
    assert batch.reference["att_rate_30d"] == pytest.approx(X["att_rate_30d"].head(8).median())
    assert batch.reference_source == "batch"
    with pytest.raises(ConfigError, match="reference must be one of"):
        model.explain(X.head(2), reference="cohort")


def test_reason_sentence_units():
    days = FeatureInfo(name="d", family="behavioral", kind="library_entry", aggregate="recency",
                       window="all", phrase="days since the last library visit", unit="days")
    assert reason_sentence(days, 23.0, 4.0, -0.2) == (
        "Days since the last library visit was 23 days (cohort median 4 days); this lowered "
        "the risk estimate.")
    assert reason_sentence(days, 2.0, None, 0.1).endswith("was 2 days; this raised the risk "
                                                          "estimate.")


# ---------------------------------------------------------------------------------- output
def test_records_and_dict_are_json_ready(ex, multi, data):
    recs = ex.to_records()
    text = json.dumps(recs, allow_nan=False)
    assert recs[0]["student_id"] == "s000" and recs[0]["as_of"].startswith("2024-09-02")
    assert sum(recs[0]["values"].values()) + recs[0]["base_value"] == pytest.approx(
        recs[0]["raw"], abs=1e-9)
    doc = ex.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["units"] == "log-odds" and doc["feature_names"] == ex.feature_names
    assert doc["data"]["lms_clicks_7d"].count(None) == int(ex.data["lms_clicks_7d"].isna().sum())
    assert doc["feature_info"]["gender"]["sensitivity"] == "audit"
    assert len(text) > 100
    X, _ = data
    mrec = multi.explain(X.head(3)).to_records()
    json.dumps(mrec, allow_nan=False)
    assert set(mrec[0]["values"]) == {"dropout", "enrolled", "graduate"}
    json.dumps(multi.explain(X.head(3)).to_dict(), allow_nan=False)


def test_to_shap(ex, multi, data):
    import shap

    e = ex.to_shap()
    assert isinstance(e, shap.Explanation)
    np.testing.assert_array_equal(e.values, ex.values)
    np.testing.assert_array_equal(e.base_values, np.full(len(ex), ex.base_value))
    assert e.feature_names == ex.feature_names
    assert e.data.dtype == np.float64  # category codes, what the trees split on
    assert e.display_data[0, 5] in ("arts", "law", "science")
    X, _ = data
    m = multi.explain(X.head(4)).to_shap()
    assert m.values.shape == (4, 6, 3) and m.base_values.shape == (4, 3)


def test_rows_and_empty_batch(ex, model, data):
    X, _ = data
    sub = ex[[0, 2]]
    np.testing.assert_array_equal(sub.values, ex.values[[0, 2]])
    assert len(ex[1]) == 1
    empty = model.explain(X.iloc[:0])
    assert empty.values.shape == (0, 6) and empty.reasons() == []
    assert isinstance(empty.base_value, float)
    assert empty.base_value == pytest.approx(ex.base_value, abs=1e-12)


def test_constructor_checks():
    data = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="values must have shape"):
        Explanations(np.zeros((2, 2)), 0.0, data=data)
    with pytest.raises(SchemaError, match="base_value must be a number"):
        Explanations(np.zeros((2, 1)), [0.0, 1.0], data=data)
    with pytest.raises(SchemaError, match="data must be a DataFrame"):
        Explanations(np.zeros((2, 1)), 0.0, data=np.zeros((2, 1)))


# ---------------------------------------------------------------------------------- plots
PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_png_files(ex, tmp_path):
    w = ex.plot_waterfall(3, tmp_path / "student.png")
    b = ex.plot_summary(tmp_path / "swarm.png")
    s = ex.plot_summary(tmp_path / "bars.png", kind="bar", max_display=4)
    for path in (w, b, s):
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.png", "student.png", "swarm.png"]
    with pytest.raises(ConfigError, match="saved as PNG"):
        ex.plot_summary(tmp_path / "x.pdf")
    with pytest.raises(ConfigError, match="kind must be 'beeswarm' or 'bar'"):
        ex.plot_summary(tmp_path / "x.png", kind="violin")
    with pytest.raises(ConfigError, match="row position"):
        ex.plot_waterfall(len(ex), tmp_path / "x.png")


def _drawn_figures(monkeypatch):
    from studentprofile.explain import _plots

    figures = []
    real = _plots._save

    def keep(fig, path):
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(_plots, "_save", keep)
    return figures


def _is_grey(rgba, tol=0.02):
    r, g, b = rgba[:3]
    return max(r, g, b) - min(r, g, b) <= tol


def test_beeswarm_grey_means_missing_and_nothing_else(tmp_path, monkeypatch):
    # regression (issue 13.7): the coolwarm map is grey in the middle, so mid-range values and
    # category codes were drawn in the grey the legend calls "missing"
    from matplotlib.colors import to_rgba

    from studentprofile.explain._plots import MISSING_COLOUR

    n = 200
    rng = np.random.default_rng(3)
    num = np.linspace(0.0, 1.0, n)  # every mid-range value is present
    num[::10] = np.nan  # 20 missing
    cat = pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c"])
    cat[5] = np.nan  # 1 missing (plus none unknown)
    data = pd.DataFrame({"x": num, "programme": cat})
    values = rng.normal(size=(n, 2))
    ex = Explanations(values, 0.0, data=data, classes=[0, 1], output_class=1)
    figures = _drawn_figures(monkeypatch)
    ex.plot_summary(tmp_path / "swarm.png")
    ax = figures[0].axes[0]
    colours = np.concatenate([
        np.broadcast_to(c.get_facecolors(), (len(c.get_offsets()), 4))
        for c in ax.collections
    ])
    grey = np.array([_is_grey(c) for c in colours])
    assert len(colours) == 2 * n
    assert grey.sum() == 21  # exactly the missing values
    assert all(np.allclose(c, to_rgba(MISSING_COLOUR)) for c in colours[grey])
    # the middle of the value map and the middle category level are coloured
    from studentprofile.explain._plots import _value_cmap

    assert not _is_grey(_value_cmap()(0.5), tol=0.15)


def test_plot_axes_name_the_outcome_not_a_class_code(tmp_path, monkeypatch, ex, multi, data):
    # regression (issue 13.7): the x axis read "log-odds of 1"
    figures = _drawn_figures(monkeypatch)
    ex.plot_summary(tmp_path / "swarm.png")
    ex.plot_waterfall(0, tmp_path / "one.png")
    X, _ = data
    multi.explain(X.head(20)).for_class("dropout").plot_summary(tmp_path / "m.png")
    labels = [fig.axes[0].get_xlabel() for fig in figures]
    assert labels[0] == "SHAP value: push on the risk of the outcome (log-odds)"
    assert labels[1].startswith("risk of the outcome, log-odds")
    assert labels[2] == "SHAP value: push on the risk of dropout (log-odds)"
    assert not any("of 1" in label for label in labels)


def test_plots_never_write_through_a_planted_temp_file(ex, tmp_path):
    # the figure goes through the package's one atomic writer (a fixed ".<name>.tmp" was
    # followed when a symlink was planted there)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".swarm.png.tmp").symlink_to(victim)
    ex.plot_summary(tmp_path / "swarm.png")
    assert victim.read_text() == "keep me"
    assert (tmp_path / "swarm.png").read_bytes().startswith(PNG)


def test_plots_without_matplotlib_say_what_to_install(ex, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(DependencyError, match="plots need matplotlib"):
        ex.plot_summary(tmp_path / "x.png")


def test_builder_coded_categories_are_categorical_and_read_as_levels():
    """FeatureBuilder turns a text column into float codes and lists the levels in extra."""
    X, y = make_data(seed=5)
    levels = ["arts", "law", "science"]
    coded = X.assign(programme=X["programme"].map({v: float(i) for i, v in
                                                   enumerate(levels)}).astype(float))
    info = FeatureInfo(name="programme", family="static", kind="programme", aggregate="value",
                       window="static", phrase="programme", extra={"categories": levels})
    model = RiskModel(allow_features=["gender"]).fit(
        coded, y, feature_info={**INFOS, "programme": info}
    )
    assert model.categories_["programme"] == [0.0, 1.0, 2.0]
    ex = model.explain(coded)
    recs = ex.reasons(top=6, allow=["gender", "counselling_visits"])
    prog = [r for rec in recs for r in rec["reasons"] if r["feature"] == "programme"]
    assert prog and all(r["value"] in levels and r["reference"] in levels for r in prog)
    assert "(most common " in prog[0]["sentence"]
    # the same model as with the text column: codes and levels carry the same information
    text_model = RiskModel(allow_features=["gender"]).fit(X, y, feature_info=INFOS)
    np.testing.assert_allclose(model.predict_raw(coded), text_model.predict_raw(X), atol=1e-12)


def test_compiled_engine_gives_the_same_explanations(model, multi, data):
    X, _ = data
    for est in (model, multi):
        ref = est.explain(X)
        fast = est.explain(X, engine="compiled")
        np.testing.assert_allclose(fast.values, ref.values, rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast.base_value, ref.base_value, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(fast.raw, ref.raw)
    assert model.explain(X.iloc[:0], engine="compiled").values.shape == (0, X.shape[1])
    with pytest.raises(ConfigError, match="engine must be one of"):
        model.explain(X.head(2), engine="shap")


# ------------------------------------------------------------------ issue 13.2: phrases
def test_feature_matrix_carries_its_infos_so_the_readme_snippet_reads_phrases():
    # regression: the README's snippet (no feature_info=) gave "Term start was 238" and
    # "Assessment missed days since last all was 1": reasons fell back to column names
    import studentprofile as sp
    from studentprofile.features import (
        FEATURE_INFO_ATTR,
        FeatureBuilder,
        academic_features,
        behavioral_features,
        make_grid,
    )
    from studentprofile.labels import make_labels

    tables = sp.datasets.simulate_campus(n_students=200, seed=0)
    grid = make_grid(tables, every=14)
    y = make_labels(tables, grid, outcome="withdrawn", horizon=60)
    builder = FeatureBuilder(academic_features() + behavioral_features())
    X = builder.fit_transform(tables, grid)
    # the usual slicing keeps the infos
    assert set(X[y.notna()].attrs[FEATURE_INFO_ATTR]) == set(X.columns)
    assert set(X.tail(5).attrs[FEATURE_INFO_ATTR]) == set(X.columns)
    model = RiskModel(n_estimators=100).fit(X[y.notna()], y.dropna())
    assert model.feature_info_ == builder.feature_info_
    rows = model.explain(X.tail(5)).reasons(top=3)
    cited = [r for row in rows for r in row["reasons"]]
    assert cited
    for r in cited:
        phrase = builder.feature_info_[r["feature"]].phrase
        assert r["phrase"] == phrase and r["sentence"].lower().startswith(phrase.lower())
        assert r["feature"] not in r["sentence"]  # never the raw column name


def test_explicit_feature_info_wins_over_the_attached_one():
    X, y = make_data(n_students=60, n_weeks=2)
    X = X.drop(columns=["gender"])
    X.attrs["feature_info"] = {"score_mean": INFOS["score_mean"].to_dict()}
    mine = INFOS["score_mean"].with_name("score_mean")
    mine = FeatureInfo(**{**mine.to_dict(), "phrase": "mean of marks"})
    m = RiskModel(n_estimators=20).fit(X, y, feature_info={"score_mean": mine})
    assert m.feature_info_["score_mean"].phrase == "mean of marks"
    m = RiskModel(n_estimators=20).fit(X, y)
    assert m.feature_info_["score_mean"].phrase == "average assessment score"
    X.attrs["feature_info"] = ["not", "a", "mapping"]
    with pytest.raises(ConfigError, match=r"must map column names to feature infos"):
        RiskModel(n_estimators=20).fit(X, y)


def test_reasons_never_cite_a_value_equal_to_the_reference():
    # regression: "School was GP (most common GP); this lowered the risk estimate"
    school = FeatureInfo(name="school", family="static", kind="school", aggregate="value",
                         window="static", phrase="school", unit="category")
    absences = FeatureInfo(name="absences", family="behavioral", kind="absence",
                           aggregate="count", window="all", phrase="absences", unit="count")
    credits = FeatureInfo(name="credits", family="academic", kind="credit", aggregate="sum",
                          window="all", phrase="credits", unit="count")
    data = pd.DataFrame({
        "school": pd.Categorical(["GP", "MS"], categories=["GP", "MS"]),
        "absences": [4.0, 9.0],
        "credits": [60.0, 30.0],
    })
    values = np.array([[-0.9, 0.5, -0.1], [0.8, 0.4, 0.3]])
    ex = Explanations(values, -1.0, data=data,
                      feature_info={"school": school, "absences": absences, "credits": credits},
                      reference={"school": "GP", "absences": 4.0, "credits": 45.0})
    first, second = (row["reasons"] for row in ex.reasons(top=2))
    # student 0: school GP and 4 absences equal the references: only credits is a reason
    assert [r["feature"] for r in first] == ["credits"]
    assert first[0]["sentence"] == "Credits was 60 (cohort median 45); this lowered the risk " \
                                   "estimate."
    # student 1 differs on every feature: the two largest are cited
    assert [r["feature"] for r in second] == ["school", "absences"]
    assert all("most common GP); " not in r["sentence"] or r["value"] != "GP"
               for row in ex.reasons(top=3) for r in row["reasons"])
