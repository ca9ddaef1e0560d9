"""Named feature presets for configs, and the spec edits (drop, add)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studentprofile.errors import ConfigError

if TYPE_CHECKING:
    from studentprofile.features import FeatureSpec
    from studentprofile.pipeline._sections import FeaturesConfig

__all__ = ["build_spec", "oulad_spec"]


def oulad_spec() -> FeatureSpec:
    """Return :func:`studentprofile.features.oulad_features` (deprecated alias).

    .. deprecated::
        ``pipeline.oulad_spec`` is removed in the next release; call
        :func:`studentprofile.features.oulad_features` (the ``"oulad"`` preset of configs).

    Returns
    -------
    FeatureSpec

    Warns
    -----
    FutureWarning
        Always.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     spec = oulad_spec()
    >>> caught[0].category.__name__, "assessment_score_mean_30d" in spec.column_names()
    ('FutureWarning', True)
    """
    import warnings

    from studentprofile.features import oulad_features

    warnings.warn(
        "studentprofile.pipeline.oulad_spec is deprecated and will be removed in the next "
        "release; use studentprofile.features.oulad_features()",
        FutureWarning,
        stacklevel=2,
    )
    return oulad_features()


def _preset(name: str) -> FeatureSpec:
    from studentprofile import features

    presets: dict[str, Any] = {
        "oulad": features.oulad_features,
        "academic": features.academic_features,
        "behavioral": features.behavioral_features,
        "participation": features.participation_features,
        "wellbeing": features.wellbeing_features,
    }
    spec: FeatureSpec = presets[name]()
    return spec


def _entry_names(spec: FeatureSpec) -> set[str]:
    from studentprofile.features import EventFeatures

    names: set[str] = set()
    for e in spec.entries:
        if isinstance(e, EventFeatures):
            names.add(e.prefix)
        else:
            names.update(e.columns)
    return names


def build_spec(cfg: FeaturesConfig) -> FeatureSpec:
    """Build the feature spec a config describes: presets, minus ``drop``, plus ``add``.

    Parameters
    ----------
    cfg : FeaturesConfig
        The ``[features]`` section.

    Returns
    -------
    FeatureSpec

    Raises
    ------
    ConfigError
        A ``drop`` name no preset entry has, or a bad custom entry.

    Examples
    --------
    >>> from studentprofile.pipeline import FeaturesConfig
    >>> spec = build_spec(FeaturesConfig(presets=("oulad",), drop=("registration",)))
    >>> any(c.startswith("registration") for c in spec.column_names())
    False
    """
    from studentprofile.features import FeatureSpec, StaticFeatures

    spec = FeatureSpec([])
    for name in cfg.presets:
        spec = spec + _preset(name)
    if cfg.drop:
        known = _entry_names(spec)
        for i, name in enumerate(cfg.drop):
            if name not in known:
                raise ConfigError(
                    "no entry of the presets has this name",
                    key=f"features.drop[{i}]" if len(cfg.drop) > 1 else "features.drop",
                    arrived=repr(name),
                    hint=f"known entries: {', '.join(sorted(known))}",
                )
        # a static entry loses only the dropped columns
        kept: list[Any] = []
        for e in spec.entries:
            if isinstance(e, StaticFeatures) and set(cfg.drop) & set(e.columns):
                cols = [c for c in e.columns if c not in cfg.drop]
                if cols:
                    d = e.to_dict()
                    d["columns"] = cols
                    for k in ("phrases", "units", "higher_is"):
                        if isinstance(d.get(k), dict):
                            d[k] = {c: v for c, v in d[k].items() if c in cols}
                    kept.extend(FeatureSpec.from_dict({"entries": [d]}).entries)
                continue
            kept.append(e)
        spec = FeatureSpec(kept).without(*cfg.drop)
    if cfg.add:
        extra = _from_entries(list(cfg.add))
        spec = spec + extra
    if not len(spec):
        raise ConfigError("the feature spec is empty", key="features",
                          hint="keep at least one preset entry or add one")
    return spec


def _from_entries(entries: list[Any]) -> FeatureSpec:
    from studentprofile.features import FeatureSpec

    out = FeatureSpec([])
    for i, raw in enumerate(entries):
        try:
            out = out + FeatureSpec.from_dict({"entries": [raw]})
        except ConfigError as exc:
            key = exc.key or ""
            key = key.replace("spec.entries[0]", f"features.add[{i}]")
            if not key.startswith("features."):
                key = f"features.add[{i}].{key}" if key else f"features.add[{i}]"
            raise ConfigError(exc.message, key=key, arrived=exc.arrived, hint=exc.hint) from exc
    return out
