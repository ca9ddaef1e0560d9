"""The warning layer on real FeatureBuilder output (simulated campus, small)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from studentprofile.datasets import simulate_campus
from studentprofile.errors import DataQualityWarning
from studentprofile.features import (
    FeatureBuilder,
    academic_features,
    behavioral_features,
    make_grid,
    participation_features,
    wellbeing_features,
)
from studentprofile.warning import (
    ABCRules,
    DriftMonitor,
    ProfileTypes,
    abc_flags,
    build_profiles,
    profile_card,
    render_card_html,
)


@pytest.fixture(scope="module")
def campus():
    tables, truth = simulate_campus(n_students=160, days=120, seed=3, wellbeing=True,
                                    return_truth=True)
    grid = make_grid(tables, every=14)
    spec = (academic_features() + behavioral_features() + participation_features()
            + wellbeing_features())
    builder = FeatureBuilder(spec)
    X = builder.fit(tables, grid).transform(tables, grid)
    return tables, truth, builder, X


def test_profiles_from_builder_records(campus):
    _, _, builder, X = campus
    p = build_profiles(X, feature_info=builder.feature_info_)
    names = [d.name for d in p.dimensions]
    assert names[:3] == ["academic", "engagement", "participation"]
    assert {"participation_moral", "participation_physical", "participation_labour"} <= set(names)
    assert "wellbeing" not in names
    infos = builder.feature_info_
    for dim, feature in zip(p.weights["dimension"], p.weights["feature"], strict=True):
        family = {"academic": "academic", "engagement": "behavioral"}.get(dim, "participation")
        assert infos[feature].family == family
        assert infos[feature].sensitivity == "normal"
    late = p.indices.xs(X.index.get_level_values("as_of").max(), level="as_of")
    assert late["academic"].between(0, 100).all()
    with_wb = build_profiles(X, feature_info=builder.feature_info_, include_wellbeing=True)
    assert with_wb.dimension("wellbeing").sensitive
    assert (with_wb.weights.query("dimension == 'wellbeing'")["feature"]
            .map(lambda f: infos[f].sensitivity) == "sensitive").all()


def test_engagement_index_tracks_the_latent_trait(campus):
    _, truth, builder, X = campus
    p = build_profiles(X, feature_info=builder.feature_info_)
    last = p.indices.xs(X.index.get_level_values("as_of").max(), level="as_of")
    trait = truth.set_index("student_id")["engagement"].reindex(last.index)
    assert last["engagement"].corr(trait, method="spearman") > 0.4


def test_abc_rules_on_builder_features(campus):
    tables, truth, builder, X = campus
    rules = ABCRules.classic(
        attendance={"kind": "class_attendance", "aggregate": "mean", "window": "30d"},
        behaviour={"kind": "assessment_missed", "aggregate": "count", "window": "30d"},
        course={"family": "academic", "aggregate": "mean", "window": "30d", "unit": "score"},
    )
    out = abc_flags(X, rules, feature_info=builder.feature_info_)
    att = X["class_attendance_mean_30d"]
    assert (att[out["attendance"]] < 0.9).all()
    assert not (att[~out["attendance"]] < 0.9).any()
    assert any("class attendance" in r.lower() for rs in out["reasons"] for r in rs)


def test_types_drift_and_card_end_to_end(campus):
    _, _, builder, X = campus
    p = build_profiles(X, feature_info=builder.feature_info_)
    types = ProfileTypes(n_types=3).fit(p)
    stab = types.stability(p)
    assert stab["n_students"].gt(0).all()
    dates = np.sort(X.index.get_level_values("as_of").unique())
    ref = X[X.index.get_level_values("as_of") <= dates[len(dates) // 2]]
    cur = X[X.index.get_level_values("as_of") == dates[-1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # drift across a term is expected
        report = DriftMonitor().fit(ref, feature_info=builder.feature_info_).check(cur)
    assert set(report["column"]) == set(X.columns)
    assert report["status"].isin(["stable", "watch", "drift"]).all()
    sid = X.index.get_level_values("student_id")[0]
    risk = pd.Series(np.linspace(0, 1, len(X)), index=X.index)
    card = profile_card(sid, profiles=p, types=types, risk=risk)
    json.dumps(card, allow_nan=False)
    assert "Academic progress" in render_card_html(card)


def test_model_explanations_flow_into_alerts_and_cards(campus, tmp_path):
    from studentprofile.labels import make_labels
    from studentprofile.models import RiskModel
    from studentprofile.warning import AlertLog, AlertPolicy

    tables, _, builder, X = campus
    grid = X.index.to_frame(index=False)
    y = make_labels(tables, grid, outcome="withdrawn", horizon=60,
                    exclude_prior=False).fillna(0.0)
    y.index = X.index
    model = RiskModel(n_estimators=50, random_state=0, n_jobs=1).fit(
        X, y.astype(int), feature_info=builder.feature_info_)
    risk = model.predict_risk(X)
    explanations = model.explain(X)
    tiers = AlertPolicy(tiers={"high": 0.1}, mode="top_fraction").apply(
        risk, reasons=explanations)
    alerted = tiers[tiers["alert"]]
    assert len(alerted) > 0
    assert all(1 <= len(r) <= 3 and all(isinstance(t, str) and t for t in r)
               for r in alerted["reasons"])
    with AlertLog(tmp_path / "a.sqlite") as log:
        assert log.record_alerts(tiers).n_new == len(alerted)
        sid, when = alerted.index[0]
        card = profile_card(sid, when, risk=tiers, reasons=explanations, alerts=log,
                            feature_info=builder.feature_info_)
    assert card["reasons"] and card["reasons"][0]["text"] == alerted["reasons"].iloc[0][0]
    assert card["risk"]["tier"] == "high"
    assert card["alerts"][0]["status"] == "raised"
    json.dumps(card, allow_nan=False)
