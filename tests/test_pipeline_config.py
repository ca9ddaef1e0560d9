"""The experiment config: TOML in, typed object out; errors name the key and file:line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from studentprofile.errors import ConfigError
from studentprofile.pipeline import (
    ExperimentConfig,
    FeaturesConfig,
    build_spec,
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
        ('[label]\nhorizon = "sixty"\n', r"exp.toml:2 label.horizon: must be a number > 0"),
        ('[grid]\nper = "week"\n', r"exp.toml:2 grid.per: must be one of \['cohort', 'enrol"),
        ('[evaluation]\ntiers = { high = 0.05, low = 1.5 }\n',
         r"exp.toml:2 evaluation.tiers.low: must be a number > 0 and <= 1"),
        ('[evaluation]\nenter_after = 0\n',
         r"exp.toml:2 evaluation.enter_after: must be an integer >= 1"),
        ('[evaluation]\ncooldown_days = -3\n',
         r"exp.toml:2 evaluation.cooldown_days: must be a number >= 0"),
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
