"""Feature specs and presets: validation, composition, wording, serialisation."""

from __future__ import annotations

import json

import pytest

from studentprofile.errors import ConfigError
from studentprofile.features import (
    AGGREGATES,
    EDUCATION_DIMENSIONS,
    EventFeatures,
    FeatureSpec,
    StaticFeatures,
    academic_features,
    behavioral_features,
    participation_features,
    wellbeing_features,
    window_label,
)


def test_windows_normalise():
    assert [window_label(w) for w in (7, "7d", "7", 0.5, "ALL", " term ")] == [
        "7d", "7d", "7d", "0.5d", "all", "term"]
    for bad in (0, -3, "week", True, None, float("nan")):
        with pytest.raises(ConfigError, match="window must be"):
            window_label(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"aggregates": ["average"]}, r"aggregates: unknown aggregate"),
        ({"aggregates": ["medain"]}, r"aggregates: unknown aggregate"),
        ({"aggregates": []}, r"at least one aggregate"),
        ({"windows": []}, r"at least one window"),
        ({"windows": ["fortnight"]}, r"windows: a window must be"),
        ({"missing": "mean"}, r"missing: must be one of"),
        ({"missing": "constant"}, r"fill_value: missing='constant' needs a finite fill_value"),
        ({"fill_value": 1.0}, r"fill_value applies only with missing='constant'"),
        ({"relative": ["rank"]}, r"relative: must be one of"),
        ({"higher_is": "up"}, r"higher_is: must be one of"),
        ({"unit": "kg"}, r"unit: must be one of"),
        ({"name": "lms clicks"}, r"names used in feature columns"),
        ({"tod_bins": 1}, r"tod_bins must be a whole number"),
        ({"family": "social"}, r"family: must be one of"),
        ({"dimension": "spiritual"}, r"dimension: must be one of"),
        ({"by": ""}, r"by must name a column"),
    ],
)
def test_entry_validation_names_the_entry(kwargs, match):
    with pytest.raises(ConfigError, match=r"EventFeatures\('lms_click'\)\.?.*" + match):
        EventFeatures("lms_click", **kwargs)


def test_entry_needs_a_selection_and_wellbeing_stays_sensitive():
    with pytest.raises(ConfigError, match="must select events by kinds, family or both"):
        EventFeatures()
    with pytest.raises(ConfigError, match="well-being features are always sensitive"):
        EventFeatures("survey", family="wellbeing", sensitivity="normal")
    with pytest.raises(ConfigError, match="kinds must be one or more"):
        EventFeatures(["quiz", ""])


def test_phrases_units_and_directions():
    e = EventFeatures("class_attendance", aggregates=list(AGGREGATES), windows=[30, "all", "term"],
                      event="class session", events="class sessions", value="class attendance",
                      mean_phrase="class attendance rate", unit="share", higher_is="better",
                      activity_is="better", regularity_is="better")
    assert e.phrase("mean", "30d") == "class attendance rate over the last 30 days"
    assert e.phrase("count", "all") == "number of class sessions to date"
    assert e.phrase("days_since_last", "all") == "days since the last class session"
    assert e.phrase("days_since_last", "30d") == \
        "days since the last class session (looking back 30 days)"
    assert e.phrase("slope", "term") == "trend in class attendance per day this term so far"
    assert e.unit_of("mean") == "share" and e.unit_of("count") == "count"
    assert e.unit_of("days_since_last") == "days" and e.unit_of("lz_entropy") == "bits"
    assert e.direction_of("mean") == "better" and e.direction_of("longest_gap") == "worse"
    assert e.direction_of("tod_entropy") == "worse" and e.direction_of("std") == "neutral"
    # default wording comes from the kind
    plain = EventFeatures("library_entry", aggregates=["count"])
    assert plain.phrase("count", "7d") == "number of library entry events over the last 7 days"


def test_compose_dedupe_and_conflicts():
    a = EventFeatures("lms_click", aggregates=["sum"], windows=[7])
    b = EventFeatures("lms_click", aggregates=["sum", "count"], windows=[7])
    spec = FeatureSpec([a]) + FeatureSpec([a])  # identical entries count once
    assert len(spec) == 1
    assert len(sum([FeatureSpec([a]), FeatureSpec([StaticFeatures("x")])])) == 2
    with pytest.raises(ConfigError, match=r"(?s)two entries produce the same column.*"
                                          r"'lms_click_sum_7d' from entries\[0\]"):
        FeatureSpec([a]) + FeatureSpec([b])
    with pytest.raises(ConfigError, match="every entry must be an EventFeatures"):
        FeatureSpec([{"kinds": "x"}])  # type: ignore[list-item]
    assert FeatureSpec([a]) + StaticFeatures("x") != spec


def test_spec_editing():
    spec = academic_features() + behavioral_features()
    assert {e.family for e in spec.select(families="academic")} == {"academic"}
    assert all("lms_click" in e.kinds for e in spec.select(kinds="lms_click"))
    dropped = spec.without("lms", "lms_click")
    assert not any(c.startswith("lms") for c in dropped.column_names())
    table = spec.describe()
    assert list(table.columns)[:3] == ["column", "entry", "family"]
    assert table["phrase"].str.len().min() > 10


def test_round_trip_json():
    spec = (academic_features(relative="zscore", term=True) + participation_features()
            + wellbeing_features() + FeatureSpec([StaticFeatures(["program"],
                                                                 phrases={"program": "degree"})]))
    text = json.dumps(spec.to_dict())
    back = FeatureSpec.from_dict(json.loads(text))
    assert back == spec and back.column_names() == spec.column_names()
    with pytest.raises(ConfigError, match="unknown field in a spec entry"):
        FeatureSpec.from_dict({"entries": [{"type": "events", "kinds": ["x"], "windowz": [7]}]})
    with pytest.raises(ConfigError, match="an entry's type must be"):
        FeatureSpec.from_dict({"entries": [{"type": "magic"}]})
    with pytest.raises(ConfigError, match="needs an 'entries' list"):
        FeatureSpec.from_dict({"features": []})


def test_static_validation():
    with pytest.raises(ConfigError, match="student_id cannot be a feature"):
        StaticFeatures(["student_id"])
    with pytest.raises(ConfigError, match="phrases names columns that are not in columns"):
        StaticFeatures(["a"], phrases={"b": "bee"})
    with pytest.raises(ConfigError, match="needs one or more column names"):
        StaticFeatures([])


def test_presets():
    aca = academic_features()
    assert "assessment_score_mean_30d" in aca.column_names()
    assert "assessment_score_mean_term" in academic_features(term=True).column_names()
    rel = academic_features(relative=["zscore", "percentile"], by="program")
    assert "assessment_score_mean_30d_percentile_program" in rel.column_names()
    beh = behavioral_features(short=14)
    assert "lms_click_sum_14d" in beh.column_names()
    assert any("lz_entropy" in c for c in beh.column_names())
    part = participation_features()
    assert {e.dimension for e in part} == set(EDUCATION_DIMENSIONS)
    assert set(EDUCATION_DIMENSIONS) == {"moral", "intellectual", "physical", "aesthetic",
                                         "labour"}
    with pytest.raises(ConfigError, match="five education dimensions"):
        participation_features({"social": ["party"]})
    well = wellbeing_features()
    assert {e.family for e in well} == {"wellbeing"}
    # presets compose without column clashes
    everything = aca + beh + part + well
    assert len(set(everything.column_names())) == len(everything.column_names())
