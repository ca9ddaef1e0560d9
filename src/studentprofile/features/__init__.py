"""Leakage-safe temporal features: specs, presets, the builder and as-of grids.

A feature at ``as_of`` uses only events with ``known_at < as_of``. Windows select events by
their ``time``: a window of ``w`` days holds ``as_of - w <= time < as_of``, ``"all"`` every
earlier event, ``"term"`` those from the student's ``term_start``. See ``docs/features.md``.

>>> from studentprofile.features import academic_features, behavioral_features
>>> spec = academic_features() + behavioral_features()
>>> len(spec.column_names()) > 20
True
"""

from studentprofile.features._builder import FeatureBuilder
from studentprofile.features._grid import make_grid
from studentprofile.features._info import (
    FEATURE_INFO_ATTR,
    SENSITIVITY_LEVELS,
    FeatureInfo,
    attached_feature_infos,
    infer_feature_infos,
)
from studentprofile.features._presets import (
    EDUCATION_DIMENSIONS,
    SCORE_KINDS,
    academic_features,
    behavioral_features,
    oulad_features,
    participation_features,
    wellbeing_features,
)
from studentprofile.features._snapshot import snapshot_matrix
from studentprofile.features._spec import (
    AGGREGATES,
    MISSING_RULES,
    TRANSFORMS,
    EventFeatures,
    FeatureSpec,
    StaticFeatures,
    window_label,
)

__all__ = [
    "AGGREGATES",
    "EDUCATION_DIMENSIONS",
    "FEATURE_INFO_ATTR",
    "MISSING_RULES",
    "SCORE_KINDS",
    "SENSITIVITY_LEVELS",
    "TRANSFORMS",
    "EventFeatures",
    "FeatureBuilder",
    "FeatureInfo",
    "FeatureSpec",
    "StaticFeatures",
    "academic_features",
    "attached_feature_infos",
    "behavioral_features",
    "infer_feature_infos",
    "make_grid",
    "oulad_features",
    "participation_features",
    "snapshot_matrix",
    "wellbeing_features",
    "window_label",
]
