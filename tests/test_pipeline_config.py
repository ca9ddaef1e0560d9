"""The experiment config: TOML in, typed object out; errors name the key and file:line."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studentprofile.errors import ConfigError
from studentprofile.pipeline import (
    ExperimentConfig,
    FeaturesConfig,
    build_spec,
    config_of_run,
    demo_config,
    demo_toml,
    load_config,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def test_demo_config_is_the_example_file_and_reads_back():
    assert demo_toml() == (EXAMPLES / "oulad_demo.toml").read_text()
    cfg = load_config(EXAMPLES / "oulad_demo.toml")
    assert cfg == demo_config().with_overrides(source="oulad_demo.toml")
    assert cfg.splits.test_start == "2014-02-01" and cfg.splits.retrain_every == 245.0
    assert cfg.evaluation.tiers == {"high": 0.05, "medium": 0.15}
    assert cfg.tracking.registered_model == "oulad-withdrawal-60d"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "x"\n[modle]\nlr = 1\n',
         r"exp.toml:2 modle: unknown key\n(.|\n)*did you mean 'model'"),
        ('[model]\nlearning_rate = 0.1\nnum_leafs = 3\n',
         r"exp.toml:3 model.num_leafs: unknown key"),
        ('[model]\n\nlearning_rate = 7\n', r"exp.toml:3 model.learning_rate: learning_rate must"),
        ('[label]\nhorizon = "sixty"\n',
         r"exp.toml:2 label.horizon: must be a positive number of days"),
        ('[grid]\nper = "week"\n', r"exp.toml:2 grid.per: must be one of \['cohort', 'enrol"),
        ('[evaluation]\ntiers = { high = 0.05, low = 1.5 }\n',
         r"exp.toml:2 evaluation.tiers.low: must be a number > 0 and <= 1"),
        ('[evaluation]\nenter_after = 0\n',
         r"exp.toml:2 evaluation.enter_after: must be an integer >= 1"),
        ('[evaluation]\ncooldown_days = -3\n',
         r"exp.toml:2 evaluation.cooldown_days: must be a non-negative number of days"),
        ('[features]\ndrop = ["nothing_like_this"]\n',
         r"exp.toml:2 features.drop: no entry of the presets has this name"),
        ('[[features.add]]\nkinds = ["quiz"]\n\n[[features.add]]\nkinds = ["x"]\nbogus = 1\n',
         r"exp.toml:4 features.add\[1\]: unknown field in a spec entry"),
        ('[splits]\ntest_start = 2014-02-01\n', r"exp.toml:1 splits.test_end: .* go together"),
        ('[tracking]\nalias = "latest"\n', r"exp.toml:2 tracking.alias: an alias is"),
        ('[data]\ndataset = "oulad"\n[data.students]\npath = "s.csv"\n',
         r"exp.toml:2 data.dataset: give either a bundled dataset or table files"),
        ('name = "x\n', r"exp.toml:1 config: the config file is not valid TOML"),
    ],
)
def test_bad_configs_name_key_and_line(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_missing_file_and_unknown_mapping_column(tmp_path):
    with pytest.raises(ConfigError, match="config: the config file does not exist"):
        load_config(tmp_path / "nope.toml")
    text = ('[data]\naudit_attributes = ["sex"]\n[data.students]\npath = "s.csv"\n'
            '[data.outcomes]\npath = "o.csv"\ncolumns = { when = "date" }\n')
    with pytest.raises(ConfigError, match=r"exp.toml:7 data.outcomes.columns.when: unknown "
                                          r"canonical column of the outcomes table"):
        load_config(write(tmp_path, text))


def test_paths_resolve_against_the_config_folder(tmp_path):
    text = ('[data]\n[data.students]\npath = "in/s.csv"\n[data.outcomes]\npath = "in/o.parquet"'
            '\ncolumns = { student_id = "sid" }\n')
    cfg = load_config(write(tmp_path, text))
    assert cfg.data.dataset is None
    assert cfg.data.students.path == tmp_path / "in" / "s.csv"
    assert cfg.data.outcomes.columns == {"student_id": "sid"}


def test_spec_is_presets_minus_drops_plus_entries():
    base = build_spec(FeaturesConfig(presets=("oulad",)))
    edited = build_spec(FeaturesConfig(
        presets=("oulad",), drop=("registration", "term_start"),
        add=({"kinds": ["tma_score"], "aggregates": ["max"], "windows": [60]},),
    ))
    cols = edited.column_names()
    assert "registration_last_all" in base.column_names() and not any(
        c.startswith("registration") for c in cols)
    assert "term_start" not in cols and "studied_credits" in cols
    assert cols[-1] == "tma_score_max_60d"


def test_flatten_gives_string_params_without_the_source():
    flat = ExperimentConfig.from_dict(tomllib.loads(demo_toml())).flatten()
    assert flat["splits.train_where.startswith"] == "2013"
    assert flat["evaluation.k"] == "[0.05, 0.1, 0.2]"
    assert "source" not in flat and all(isinstance(v, str) for v in flat.values())


def test_hand_built_config_without_table_files_is_a_config_error():
    from studentprofile.pipeline import DataConfig, ExperimentConfig, load_tables

    with pytest.raises(ConfigError, match=r"data.students: table files need"):
        load_tables(ExperimentConfig(data=DataConfig(dataset=None)))


# ---------------------------------------------------------------- 12.1: every saved config reloads
_chars = st.characters(min_codepoint=0x20, max_codepoint=0x2FFF,
                       blacklist_categories=("Cs", "Cc"))
_text = st.text(alphabet=_chars, min_size=1, max_size=12)
_moment = st.one_of(
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2120, 1, 1)).map(str),
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
)
_days = st.floats(min_value=0.5, max_value=36_000, allow_nan=False)
_where = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"column": _text, "startswith": _text}),
    st.fixed_dictionaries({"column": _text, "in": st.lists(_text, min_size=1, max_size=3)}),
)
_data = st.one_of(
    st.fixed_dictionaries({"dataset": st.just("oulad")},
                          optional={"sample_students": st.floats(0.01, 1.0)}),
    st.fixed_dictionaries({"dataset": st.just("simulated"),
                           "simulate": st.fixed_dictionaries({"n_students": st.integers(10, 99)})}),
    st.fixed_dictionaries(
        {"students": st.just({"path": "/campus/students.csv",
                              "columns": {"student_id": "StudentNo"}}),
         "outcomes": st.just("/campus/outcomes.csv")},
        optional={"events": st.just({"path": "/campus/events.parquet", "parse_dates": ["time"]}),
                  "audit_attributes": st.lists(_text, min_size=1, max_size=2),
                  "time_origin": _moment, "ids_as_text": st.booleans()}),
)
_config = st.fixed_dictionaries(
    {},
    optional={
        "name": st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,20}[A-Za-z0-9_-]", fullmatch=True),
        "description": st.text(max_size=20),
        "seed": st.integers(0, 2**31),
        "data": _data,
        "grid": st.fixed_dictionaries({}, optional={"every": _days, "start": _moment,
                                                     "end": _moment,
                                                     "per": st.sampled_from(["cohort",
                                                                             "enrolment"])}),
        "features": st.fixed_dictionaries({"presets": st.lists(
            st.sampled_from(["academic", "behavioral", "participation"]), min_size=1,
            max_size=3, unique=True)}),
        "label": st.fixed_dictionaries({}, optional={
            "outcome": st.lists(_text, min_size=1, max_size=2), "horizon": _days,
            "observed_until": _moment}),
        "model": st.fixed_dictionaries({}, optional={"learning_rate": st.floats(0.01, 0.5),
                                                     "n_estimators": st.integers(1, 500)}),
        "splits": st.fixed_dictionaries({}, optional={
            "gap": _days, "retrain_every": _days, "train_start": _moment, "train_where": _where,
            "test_where": _where, "truncate": st.booleans()}),
        "evaluation": st.fixed_dictionaries({}, optional={
            "k": st.lists(st.floats(0.01, 1.0), min_size=1, max_size=3),
            "audit_k": st.floats(0.01, 1.0), "min_group_size": st.integers(5, 50),
            "tiers": st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                                     st.floats(0.01, 1.0), min_size=1, max_size=3)
            .filter(lambda t: len(set(t.values())) == len(t)),
            "cooldown_days": _days}),
        "tracking": st.fixed_dictionaries({}, optional={
            "enabled": st.booleans(), "uri": st.just("sqlite:///x.db"),
            "registered_model": _text, "output_dir": st.just("/srv/runs")}),
    },
)


@given(_config)
def test_every_config_survives_to_dict_and_from_dict(data):
    cfg = ExperimentConfig.from_dict(data)
    again = ExperimentConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_empty_row_filters_round_trip_through_a_saved_run(tmp_path):
    # a run without splits.train_where / test_where stores {} for them; reading it back used
    # to fail with "splits.train_where: needs a column and one of startswith / in"
    cfg = ExperimentConfig.from_dict({"name": "campus", "data": {"dataset": "simulated"}})
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    back = config_of_run(tmp_path)
    assert back.splits.train_where == {} and back.splits.test_where == {}
    assert back.source.endswith("config.json")  # errors name the file
    assert back.with_overrides(source="<dict>") == cfg


def test_label_observed_until_is_read_and_reaches_make_labels(tmp_path, monkeypatch):
    cfg = load_config(write(tmp_path, '[label]\nhorizon = 30\nobserved_until = 2014-06-01\n'))
    assert cfg.label.observed_until == "2014-06-01"
    seen = {}

    def fake_labels(tables, grid, **kw):
        seen.update(kw)
        raise ConfigError("stop here", key="x")

    monkeypatch.setattr("studentprofile.labels.make_labels", fake_labels)
    from studentprofile.pipeline import run

    t = __import__("studentprofile").datasets.simulate_campus(n_students=20, seed=1)
    with pytest.raises(ConfigError, match="label.x: stop here"):
        run(cfg, tables=t)
    assert seen["observed_until"] == "2014-06-01" and seen["horizon"] == 30.0


# ---------------------------------------------------------------- 13.12: one name, one face
def test_oulad_spec_is_a_deprecated_alias_of_oulad_features():
    from studentprofile.features import oulad_features
    from studentprofile.pipeline import oulad_spec

    with pytest.warns(FutureWarning, match=r"pipeline.oulad_spec is deprecated .* "
                      r"use studentprofile.features.oulad_features\(\)"):
        spec = oulad_spec()
    assert spec.column_names() == oulad_features().column_names()
    # the config's "oulad" preset does not go through the alias (no warning)
    assert build_spec(FeaturesConfig(presets=("oulad",))).column_names() == spec.column_names()


def test_dir_shows_the_public_faces_only():
    import studentprofile as sp
    import studentprofile.pipeline as pl

    assert dir(sp) == sorted(sp.__all__)
    assert dir(pl) == sorted(pl.__all__)
    assert "importlib" not in dir(sp) and "_config" not in dir(pl)
    for name in sp.__all__:
        assert getattr(sp, name) is not None
