"""The early-warning step of a pipeline run: alerts over the test period, drift, a profile card.

Turns the backtest's scores into what the platform would have done with them: the
:class:`~studentprofile.warning.AlertPolicy` (the run's tiers, hysteresis and cool-down)
replayed over the test as-of dates, the alerts' precision and lead time, a drift check of the
test period against the training period, and the profile card of the explained student.
Everything it returns is free of student identifiers (run folders are logged to MLflow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from studentprofile.tables import EventTables

__all__ = ["early_warning", "showcase"]

#: Alert and drift settings are in the config; profiles use this many latest as-of dates.
_PROFILE_DATES = 6


def _policy_summary(alerts: pd.DataFrame, scores: pd.DataFrame, tables: EventTables,
                    outcomes: tuple[str, ...]) -> dict[str, Any]:
    """Count the alerts a policy raised over the test period; their precision and lead time."""
    sid = alerts.index.get_level_values("student_id").to_numpy()
    first_row = np.r_[True, sid[1:] != sid[:-1]]
    # what a bare threshold would raise: every time a student's raw tier rises from none
    raw = alerts["raw_tier"].cat.codes.to_numpy() + 1
    raw_prev = np.r_[0, raw[:-1]]
    raw_entries = int(((raw > 0) & (first_row | (raw_prev == 0))).sum())
    fired = alerts[alerts["alert"]]
    label = scores.set_index(["student_id", "as_of"])["label"].reindex(fired.index)
    labelled = label.notna().to_numpy()
    by_tier = fired["tier"].astype(str).value_counts()

    # lead time: students who reached the outcome after their first test date
    as_of_days = tables.to_days(alerts.index.get_level_values("as_of").to_numpy())
    first_day = pd.Series(as_of_days).groupby(sid).min()
    oc = tables.outcomes
    oc = oc[oc["outcome"].astype(str).isin(outcomes) & oc["student_id"].isin(first_day.index)]
    reached = pd.Series(tables.to_days(oc["time"].to_numpy()),
                        index=oc["student_id"].to_numpy()).groupby(level=0).min()
    reached = reached[reached > first_day.reindex(reached.index).to_numpy()]
    fired_days = pd.Series(tables.to_days(fired.index.get_level_values("as_of").to_numpy()),
                           index=fired.index.get_level_values("student_id").to_numpy())
    before = fired_days[fired_days.to_numpy() <= reached.reindex(fired_days.index).to_numpy()]
    first_alert = before.groupby(level=0).min()
    lead = (reached.reindex(first_alert.index) - first_alert).to_numpy(dtype=float)
    n_reached = int(len(reached))
    return {
        "as_of_dates": int(pd.unique(alerts.index.get_level_values("as_of")).size),
        "rows": int(len(alerts)),
        "alerts": int(len(fired)),
        "alerts_by_tier": {str(k): int(v) for k, v in by_tier.items() if v},
        "students_alerted": int(pd.unique(fired.index.get_level_values("student_id")).size),
        "threshold_entries": raw_entries,
        "alerts_per_threshold_entry": (len(fired) / raw_entries) if raw_entries else None,
        "alert_precision": (float(label[labelled].mean()) if labelled.any() else None),
        "alerts_labelled": int(labelled.sum()),
        "students_reaching_outcome": n_reached,
        "alerted_before_outcome": (len(first_alert) / n_reached) if n_reached else None,
        "alerted_14_days_ahead": (float(np.sum(lead >= 14)) / n_reached) if n_reached else None,
        "median_lead_days": float(np.median(lead)) if len(lead) else None,
    }


def _drift(X: pd.DataFrame, info: Any, model: Any, reference: np.ndarray,
           current: np.ndarray, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """PSI and KS of every feature and of the final model's score: training vs test period.

    Both periods pool every as-of date of their year, so the comparison is like with like
    (one late as-of date against a whole training year would mostly measure how far into the
    term it is). Each side is a seeded sample of at most 50,000 rows.
    """
    from studentprofile.warning import DriftMonitor

    rng = np.random.default_rng(seed)

    def sample(mask: np.ndarray) -> pd.DataFrame:
        pos = np.flatnonzero(mask)
        if len(pos) > 50_000:  # PSI and KS are stable long before this; keeps the step cheap
            pos = np.sort(rng.choice(pos, size=50_000, replace=False))
        return X.iloc[pos]

    X_ref, X_now = sample(reference), sample(current)
    monitor = DriftMonitor(warn=False).fit(X_ref, model.predict_proba(X_ref)[:, 1],
                                           feature_info=info)
    table = monitor.check(X_now, model.predict_proba(X_now)[:, 1])
    status = table.set_index("column")["status"]
    score = table[table["column"] == "score"]
    summary = {
        "reference": "training period",
        "current": "test period",
        "reference_rows": int(len(X_ref)),
        "current_rows": int(len(X_now)),
        "score": ({k: _plain(v) for k, v in score.iloc[0].items()} if len(score) else None),
        "features_drifted": sorted(str(c) for c in status.index[status == "drift"]
                                   if c != "score"),
        "features_watch": sorted(str(c) for c in status.index[status == "watch"]
                                 if c != "score"),
        "thresholds": {"psi": list(monitor.psi_thresholds), "ks": monitor.ks_threshold},
    }
    return summary, table


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def risk_label(cfg: Any) -> str:
    """Say what a card's probability is of, from the run's label config."""
    return f"risk: {' or '.join(cfg.label.outcome)} within {cfg.label.horizon:g} days"


def card_profiles(recent: pd.DataFrame, info: Any, tables: EventTables,
                  seed: int) -> tuple[Any, Any]:
    """Profiles (default dimensions) and profile types for the cards of a run or a week.

    Percentiles are within the module presentation when the students table has one (OULAD),
    else among everyone with a row on the same date. ``(None, None)`` when no default dimension
    has features; no types with fewer than two dimensions.
    """
    from studentprofile.errors import ConfigError
    from studentprofile.warning import ProfileSpec, ProfileTypes, build_profiles

    cohort = None
    if "presentation" in tables.students.columns:
        cohort = tables.students.set_index("student_id")["presentation"]
    try:
        profiles = build_profiles(recent, feature_info=info, spec=ProfileSpec.default(),
                                  cohort=cohort)
    except ConfigError:  # no dimension of the default spec has features here
        return None, None
    types = None
    if profiles.indices.shape[1] >= 2:
        types = ProfileTypes(n_types=4, random_state=seed).fit(profiles)
    return profiles, types


def showcase(expl: Any, *, X: pd.DataFrame, model: Any, tiers: dict[str, float],
             cfg: Any) -> tuple[int, dict[str, Any]]:
    """Pick the explained student the demo shows: the highest-risk one who was alerted.

    "Alerted" is what the deployed (final) model would have done: the alert policy (the run's
    tiers, hysteresis and cool-down) replayed over each explained student's dates up to the
    explained date raised an alert, and the student is in a tier on that date. Among those the
    highest risk is shown. When nobody was, the highest-risk student is shown and the note says
    so, with the risk below every tier.

    Parameters
    ----------
    expl : Explanations
        Explanations of the explained sample, indexed by (``student_id``, ``as_of``).
    X : DataFrame
        Every feature row of the run (the students' history).
    model : RiskModel
        The final model.
    tiers : dict
        Tier name -> probability threshold.
    cfg : ExperimentConfig
        ``evaluation.enter_after``, ``exit_after``, ``cooldown_days``.

    Returns
    -------
    position : int
        The shown student's row in ``expl``.
    example : dict
        ``risk``, ``as_of``, ``tier`` (None when below every tier), ``alerted`` (bool),
        ``reasons`` (what raised the estimate, as sentences) and ``note`` (who this is, in
        words; no identifier).
    """
    from studentprofile.warning import AlertPolicy

    prob = np.asarray(expl.probability, dtype=float)
    keys = expl.data.index
    ev = cfg.evaluation
    policy = AlertPolicy(tiers=tiers, mode="probability", enter_after=ev.enter_after,
                         exit_after=ev.exit_after, cooldown_days=ev.cooldown_days)
    # each explained student's history up to the explained date, scored by the final model
    until = pd.Series(keys.get_level_values("as_of"),
                      index=keys.get_level_values("student_id")).groupby(level=0).max()
    sid = X.index.get_level_values("student_id")
    rows = X[sid.isin(until.index)]
    rows = rows[np.asarray(rows.index.get_level_values("as_of")
                           <= until.reindex(rows.index.get_level_values("student_id")).to_numpy())]
    states = policy.apply(pd.Series(model.predict_proba(rows)[:, 1], index=rows.index))
    alerted_ever = states["alert"].groupby(level="student_id").cumsum() > 0
    state = states.assign(alerted=alerted_ever).reindex(keys)
    alerted = (state["alerted"].fillna(False).astype(bool) & state["tier"].notna()).to_numpy()
    if alerted.any():
        top = int(np.flatnonzero(alerted)[np.argmax(prob[alerted])])
        note = ("the highest-risk alerted student of the explained sample of the latest "
                "week (identifier not shown)")
    else:
        top = int(np.argmax(prob))
        note = ("no student of the explained sample of the latest week was alerted; this is "
                "its highest-risk student (identifier not shown)")
    tier = state["tier"].iloc[top]
    # an advisor asks "why is this student flagged?": show what raised the estimate
    reasons = expl.reasons(top=3, direction="raised")[top]
    example = {
        "risk": float(reasons["probability"]),
        "as_of": reasons.get("as_of"),
        "tier": None if pd.isna(tier) else str(tier),
        "alerted": bool(alerted[top]),
        "reasons": [r["sentence"] for r in reasons["reasons"]],
        "note": note,
    }
    return top, example


def _card(student: Any, as_of: Any, *, X: pd.DataFrame, info: Any, model: Any,
          policy: Any, expl: Any, tables: EventTables, risk_label: str,
          seed: int) -> dict[str, Any] | None:
    """Build the explained student's card as the deployed (final) model shows it.

    Risk history, tiers, alerts and reasons all come from the final model, so the card agrees
    with the reasons printed by the demo; the identifier and the alert ids are removed (the
    card is a run artefact).
    """
    from studentprofile.warning import AlertLog, profile_card

    at = X.index.get_level_values("as_of")
    dates = np.sort(pd.unique(at[at <= as_of]))[-_PROFILE_DATES:]
    profiles, types = card_profiles(X[at.isin(dates)], info, tables, seed)
    rows = X.xs(student, level="student_id", drop_level=False)
    rows = rows[rows.index.get_level_values("as_of") <= as_of]
    risk = pd.Series(model.predict_proba(rows)[:, 1], index=rows.index)
    tiers = policy.apply(risk)
    with AlertLog(":memory:", time_kind=tables.time_kind) as log:  # a throwaway log
        log.record_alerts(tiers, source="risk-model")
        card = profile_card(student, as_of, profiles=profiles, types=types, risk=tiers,
                            reasons=expl, alerts=log, feature_info=info,
                            risk_label=risk_label)
    card["student_id"] = None
    for a in card.get("alerts", []):
        a.pop("alert_id", None)
    card.setdefault("notes", []).append(
        "Identifier and alert ids removed: this card is a run artefact. Risk, tier, alerts and "
        "reasons are the final model's.")
    return card


def early_warning(
    *,
    cfg: Any,
    tables: EventTables,
    scores: pd.DataFrame,
    tiers: dict[str, float],
    X: pd.DataFrame,
    info: Any,
    model: Any,
    reference: np.ndarray,
    expl: Any,
    example_key: tuple[Any, Any] | None,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any] | None]:
    """Replay the alert policy over the test period, check drift, build the example's card.

    Parameters
    ----------
    cfg : ExperimentConfig
        ``evaluation.enter_after``, ``exit_after`` and ``cooldown_days`` set the policy.
    tables : EventTables
        The run's tables (outcomes for the lead time).
    scores : DataFrame
        The backtest's scores (``student_id``, ``as_of``, ``score``, ``label``).
    tiers : dict
        Tier name -> probability threshold (the model's tiers).
    X : DataFrame
        Every feature row of the run, indexed by (``student_id``, ``as_of``).
    info : mapping
        Feature infos.
    model : RiskModel
        The final model (scores both drift samples and the card).
    reference : ndarray of bool
        Rows of ``X`` that make up the training period.
    expl : Explanations
        Explanations of the explained sample (reasons on the card).
    example_key : tuple or None
        (student_id, as_of) of the card's student.

    Returns
    -------
    summary : dict
        ``policy``, ``alerts`` (counts, precision, lead time; backtest scores) and ``drift``;
        no identifiers.
    drift_table : DataFrame
        One row per feature and the score.
    card : dict or None
        The profile card (identifier removed).
    """
    from studentprofile.warning import AlertPolicy

    ev = cfg.evaluation
    policy = AlertPolicy(tiers=tiers, mode="probability", enter_after=ev.enter_after,
                         exit_after=ev.exit_after, cooldown_days=ev.cooldown_days)
    keyed = scores.set_index(["student_id", "as_of"])["score"]
    alerts = policy.apply(keyed)
    summary: dict[str, Any] = {
        "policy": policy.to_dict(),
        "alerts": _policy_summary(alerts, scores, tables, tuple(cfg.label.outcome)),
    }
    tested = X.index.isin(keyed.index)
    summary["drift"], table = _drift(X, info, model, reference, np.asarray(tested), cfg.seed)
    card = None
    if example_key is not None:
        card = _card(example_key[0], example_key[1], X=X, info=info, model=model,
                     policy=policy, expl=expl, tables=tables, risk_label=risk_label(cfg),
                     seed=cfg.seed)
    return summary, table, card
