"""Profile cards: one student, one as-of date, everything an advisor needs on one screen.

:func:`profile_card` gathers the dimension indices and their trends, the calibrated risk and its
tier, the top reasons and the recent alerts into a JSON-ready dictionary (plain types only: a
campus system can store or send it as it is); :func:`render_card_html` turns it into a compact,
self-contained HTML fragment (inline CSS and SVG, every text escaped).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._version import __version__
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.warning._alert_log import AlertLog
from studentprofile.warning._inputs import days_of, keyed_frame
from studentprofile.warning._profiles import Profiles, ProfileTypes
from studentprofile.warning._reasons import day_key, reasons_lookup

__all__ = ["CARD_VERSION", "ProfileCard", "card_file_stem", "profile_card", "render_card_html"]

#: Version of the card's JSON layout.
CARD_VERSION = 1

#: Longest readable part of a card's file name (the hash follows it).
_SLUG_MAX = 40
#: Hex digits of SHA-256 in a card's file name: 64 bits, distinct for any realistic campus.
_HASH_HEX = 16
# names Windows reserves whatever the extension (CON.json is the console, not a file)
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{d}{i}" for d in ("COM", "LPT") for i in (*"123456789", "¹", "²", "³")}
)


def card_file_stem(student_id: Any) -> str:
    """Return the file name (without extension) of a student's profile card.

    A readable slug of the id (accents folded to ASCII, anything else but letters, digits,
    ``_`` and ``-`` replaced by ``_``, at most 40 characters) followed by ``-`` and 16 hex
    digits of the SHA-256 of the exact id as text (UTF-8). Distinct ids give distinct names
    (``Zoë-1`` and ``Zoé-1``, two Chinese names, ``a/b`` and ``a_b``), also on file systems
    that ignore case; the name has no path separator, no leading dot or dash, no trailing dot
    or space and is never a name Windows reserves. The card's JSON keeps the exact id.

    Parameters
    ----------
    student_id : int or str
        The student's id (compared as text: ``123`` and ``"123"`` are the same student).

    Returns
    -------
    str
        At most 57 characters of ``[A-Za-z0-9_-]``.

    Examples
    --------
    >>> card_file_stem("AAA/2014J/11391")
    'AAA_2014J_11391-dccf73ffd4a98789'
    >>> card_file_stem("Zoë-1") != card_file_stem("Zoé-1")
    True
    >>> card_file_stem("王小明")[:8]
    'student-'
    """
    text = str(student_id)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", folded)[:_SLUG_MAX].strip("_-")
    if not slug or slug.upper() in _WINDOWS_RESERVED:
        slug = f"student_{slug}".rstrip("_")
    return f"{slug}-{digest}"


class ProfileCard(dict[str, Any]):
    """A profile card: the plain JSON-ready dictionary :func:`profile_card` builds.

    A ``dict`` in every respect (``json.dumps`` it, store it, compare it with a dict); in a
    notebook it shows itself as the rendered card (:func:`render_card_html`).

    Examples
    --------
    >>> card = ProfileCard({"student_id": "<ana>", "as_of": 60.0})
    >>> isinstance(card, dict), "&lt;ana&gt;" in card._repr_html_()
    (True, True)
    """

    def _repr_html_(self) -> str:
        return render_card_html(self)


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(v)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    return v


def _rows_of(frame: pd.DataFrame, student_id: Any) -> pd.DataFrame:
    """Rows of one student from a frame indexed by (student_id, as_of), sorted by date."""
    try:
        sub = frame.xs(student_id, level="student_id", drop_level=True)
    except KeyError:
        return frame.iloc[0:0].droplevel("student_id")
    return pd.DataFrame(sub).sort_index()


def _pick_as_of(dates: pd.Index, as_of: Any) -> Any:
    if as_of is None:
        return dates.max() if len(dates) else None
    target = day_key(as_of)
    d = days_of(np.asarray(dates))
    hit = np.flatnonzero(np.isclose(d, target, rtol=0, atol=1e-9))
    return dates[hit[0]] if len(hit) else None


def profile_card(
    student_id: Any,
    as_of: Any = None,
    *,
    profiles: Profiles | None = None,
    types: ProfileTypes | None = None,
    risk: pd.Series | pd.DataFrame | None = None,
    reasons: Any = None,
    alerts: AlertLog | pd.DataFrame | None = None,
    feature_info: Any = None,
    allow_sensitive: Iterable[str] = (),
    history: int = 6,
    n_alerts: int = 5,
    top_reasons: int = 3,
    risk_label: str = "risk",
) -> ProfileCard:
    """Build a JSON-ready profile card for one student at one as-of date.

    Every section is optional: it appears when its input is given.

    Parameters
    ----------
    student_id : int or str
        The student.
    as_of : date or float, optional
        The as-of date; default: the student's latest date in ``profiles`` (else ``risk``).
    profiles : Profiles, optional
        From :func:`build_profiles`: dimension percentiles, change and a short history.
    types : ProfileTypes, optional
        Fitted profile types: the student's type at ``as_of``.
    risk : Series or DataFrame, optional
        Calibrated risk keyed by (``student_id``, ``as_of``): a Series of probabilities, or the
        output of :meth:`AlertPolicy.apply` (adds the tier).
    reasons : optional
        ``model.explain(X)`` or any form :meth:`AlertPolicy.apply` accepts.
    alerts : AlertLog or DataFrame, optional
        The alert log (or its :meth:`AlertLog.alerts` frame): the student's recent alerts.
    feature_info : mapping or FeatureBuilder, optional
        Used to keep sensitive and audit features out of the reasons.
    allow_sensitive : iterable of str, default ()
        Sensitive features allowed into the reasons, by name.
    history : int, default 6
        As-of dates of history per dimension and for the risk.
    n_alerts : int, default 5
        Most recent alerts shown.
    top_reasons : int, default 3
        Reasons shown.
    risk_label : str, default "risk"
        What the probability is of, e.g. ``"risk of withdrawal"``.

    Returns
    -------
    ProfileCard
        A ``dict`` (shown as the rendered card in a notebook) with
        ``card_version``, ``student_id``, ``as_of``, and when available ``risk``
        (``probability``, ``tier``, ``history``), ``reasons`` (records with ``text``),
        ``dimensions`` (``name``, ``label``, ``percentile``, ``change``, ``history``,
        ``sensitive``, ``parent``, ``description``), ``profile_type`` (``id``, ``name``),
        ``alerts`` (``alert_id``, ``as_of``, ``tier``, ``status``, ``status_time``,
        ``staff``), ``notes`` and ``generated_by``. Only plain JSON types; NaN becomes None.

    Raises
    ------
    SchemaError
        The student or the date is in none of the inputs.

    Examples
    --------
    >>> import json, pandas as pd
    >>> risk = pd.Series([0.12, 0.41],
    ...                  index=pd.MultiIndex.from_tuples([("ana", 30.0), ("ana", 60.0)],
    ...                                                  names=["student_id", "as_of"]))
    >>> card = profile_card("ana", risk=risk)
    >>> card["as_of"], card["risk"]["probability"], card["risk"]["history"][0]
    (60.0, 0.41, {'as_of': 30.0, 'probability': 0.12})
    >>> _ = json.dumps(card, allow_nan=False)
    """
    if isinstance(history, bool) or not isinstance(history, int) or history < 1:
        raise ConfigError("history must be a positive integer", key="history",
                          arrived=repr(history))
    card: dict[str, Any] = {"card_version": CARD_VERSION,
                            "student_id": _json_value(student_id), "as_of": None}
    risk_frame = None
    if risk is not None:
        risk_frame = keyed_frame(risk, table="risk", value="score")
        if "score" not in risk_frame.columns:
            cols = [c for c in risk_frame.columns if c not in ("student_id", "as_of")]
            if len(cols) != 1:
                raise SchemaError("the risk frame needs a `score` column", table="risk",
                                  column="score", rule="required-column",
                                  arrived=f"columns {cols!r}")
            risk_frame = risk_frame.rename(columns={cols[0]: "score"})
        risk_frame = risk_frame.set_index(["student_id", "as_of"])
    # the date of the card
    dates: pd.Index | None = None
    for source in (profiles.indices if profiles is not None else None, risk_frame):
        if source is not None:
            rows = _rows_of(source, student_id)
            if len(rows):
                dates = rows.index
                break
    if dates is None:
        raise SchemaError(
            "the student is in none of the inputs",
            table="profile_card",
            column="student_id",
            rule="membership",
            arrived=repr(student_id),
            hint="check the id and its type (int vs str)",
        )
    when = _pick_as_of(dates, as_of)
    if when is None:
        raise SchemaError(
            "the student has no row at this as-of date",
            table="profile_card",
            column="as_of",
            rule="membership",
            arrived=f"{as_of!r}; the student's dates run {dates.min()!r} to {dates.max()!r}",
            hint="leave as_of out for the latest date",
        )
    card["as_of"] = _json_value(when)
    when_day = day_key(when)
    notes = []

    if risk_frame is not None:
        rows = _rows_of(risk_frame, student_id)
        rows = rows[days_of(np.asarray(rows.index)) <= when_day + 1e-9]
        if len(rows):
            last = rows.iloc[-1]
            section: dict[str, Any] = {
                "label": risk_label,
                "probability": _json_value(float(last["score"])),
                "as_of": _json_value(rows.index[-1]),
            }
            if "tier" in rows.columns:
                section["tier"] = _json_value(last["tier"])
                section["raw_tier"] = _json_value(last.get("raw_tier"))
            section["history"] = [
                {"as_of": _json_value(d), "probability": _json_value(float(s))}
                for d, s in zip(rows.index[-history:], rows["score"].iloc[-history:],
                                strict=True)
            ]
            card["risk"] = section

    if reasons is not None:
        lookup = reasons_lookup(reasons, top=top_reasons)
        recs = lookup.get((_plain(student_id), when_day), [])
        infos = _infos_map(feature_info) if feature_info is not None else None
        allowed = set(allow_sensitive)
        kept = []
        for r in recs:
            feat = r.get("feature")
            if infos is not None and feat in infos and infos[feat].sensitivity != "normal" \
                    and feat not in allowed:
                continue
            kept.append({k: _json_value(v) for k, v in r.items()})
        card["reasons"] = kept[:top_reasons]

    if profiles is not None:
        rows = _rows_of(profiles.indices, student_id)
        chg = _rows_of(profiles.change, student_id)
        rows = rows[days_of(np.asarray(rows.index)) <= when_day + 1e-9]
        dims = []
        for dim in profiles.dimensions:
            series = rows[dim.name] if dim.name in rows.columns else pd.Series(dtype=float)
            value = series.iloc[-1] if len(series) else np.nan
            change = chg.loc[rows.index[-1], dim.name] if len(rows) else np.nan
            dims.append({
                "name": dim.name,
                "label": dim.label,
                "percentile": _json_value(float(value)),
                "change": _json_value(float(change)),
                "history": [_json_value(float(v)) for v in series.iloc[-history:]],
                "sensitive": bool(dim.sensitive),
                "parent": dim.parent,
                "description": dim.description,
            })
        card["dimensions"] = dims
        card["history_dates"] = [_json_value(d) for d in rows.index[-history:]]
        notes.append("Percentiles compare the student with students who have data on the same "
                     "as-of date: 50 is the middle, 90 is better than nine in ten.")
        if any(d["sensitive"] for d in dims):
            notes.append("Well-being is sensitive data, shown because the institution opted in.")
        if types is not None:
            labels = types.predict(profiles)
            try:
                t = labels.loc[(student_id, when)]
            except KeyError:
                t = pd.NA
            card["profile_type"] = (
                None if t is pd.NA else {"id": int(t), "name": types.names_[int(t)]}
            )

    if alerts is not None:
        frame = alerts.alerts() if isinstance(alerts, AlertLog) else alerts
        if not isinstance(frame, pd.DataFrame) or "student_id" not in frame.columns \
                or "as_of" not in frame.columns:
            raise SchemaError("alerts must be an AlertLog or its alerts() frame",
                              table="alerts", rule="required-column",
                              arrived=type(alerts).__name__)
        mine = frame[frame["student_id"] == student_id]
        mine = mine[days_of(mine["as_of"].to_numpy()) <= when_day + 1e-9]
        mine = mine.sort_values("as_of", kind="stable").tail(n_alerts).iloc[::-1]
        keep = [c for c in ("alert_id", "source", "as_of", "tier", "score", "status",
                            "status_time", "staff") if c in mine.columns]
        card["alerts"] = [{c: _json_value(r[c]) for c in keep}
                          for r in mine.to_dict("records")]

    card["notes"] = notes
    card["generated_by"] = f"studentprofile {__version__}"
    return ProfileCard(card)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _infos_map(feature_info: Any) -> dict[str, Any]:
    if hasattr(feature_info, "feature_info_"):
        feature_info = feature_info.feature_info_
    if isinstance(feature_info, dict):
        return dict(feature_info)
    return {i.name: i for i in feature_info}


# ------------------------------------------------------------------------------------ HTML
_CSS = """
.sp-card{font:13px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;
 max-width:460px;border:1px solid #d9e2ec;border-radius:8px;padding:12px 14px;background:#fff}
.sp-card h2{font-size:15px;margin:0}.sp-card h3{font-size:12px;text-transform:uppercase;
 letter-spacing:.04em;color:#52606d;margin:12px 0 4px}
.sp-head{display:flex;justify-content:space-between;align-items:baseline;gap:8px}
.sp-sub{color:#616e7c;font-size:12px}
.sp-tier{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff;
 background:#7b8794}.sp-tier.t2{background:#c0392b}.sp-tier.t1{background:#d68910}
.sp-risk{font-size:22px;font-weight:700;margin-right:6px}
.sp-card ol{margin:0;padding-left:18px}.sp-card li{margin:2px 0}
.sp-up{color:#c0392b}.sp-down{color:#1e8449}
.sp-dims{width:100%;border-collapse:collapse}.sp-dims td{padding:2px 4px;vertical-align:middle}
.sp-dims td.l{width:38%}.sp-dims tr.sub td.l{padding-left:16px;color:#52606d}
.sp-bar{background:#eef2f7;height:8px;border-radius:4px;width:110px;position:relative}
.sp-bar span{position:absolute;left:0;top:0;bottom:0;border-radius:4px;background:#3e7cb1}
.sp-bar i{position:absolute;left:50%;top:-2px;bottom:-2px;border-left:1px dashed #9aa5b1}
.sp-num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.sp-sens{font-size:11px;color:#8e44ad}
.sp-alerts{width:100%;border-collapse:collapse;font-size:12px}
.sp-alerts th{text-align:left;color:#616e7c;font-weight:500}
.sp-alerts td,.sp-alerts th{padding:1px 4px;border-bottom:1px solid #f0f4f8}
.sp-foot{margin-top:10px;color:#7b8794;font-size:11px}
.sp-type{margin:0 0 4px;font-size:12px;color:#323f4b}
"""


def _ordinal(v: float) -> str:
    n = int(round(v))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _spark(values: list[Any]) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{i * 48 / n:.1f},{16 - v * 14 / 100 - 1:.1f}" for i, v in pts)
    return (f'<svg width="50" height="16" viewBox="0 0 50 16" aria-hidden="true">'
            f'<polyline points="{coords}" fill="none" stroke="#3e7cb1" stroke-width="1.5"/>'
            "</svg>")


def render_card_html(card: dict[str, Any], *, full_page: bool = False) -> str:
    """Render a :func:`profile_card` dictionary as compact, self-contained HTML.

    Parameters
    ----------
    card : dict
        The card.
    full_page : bool, default False
        Wrap the fragment in a complete HTML document (for saving as a file).

    Returns
    -------
    str
        HTML with inline CSS and SVG; every text from the card is escaped.

    Examples
    --------
    >>> html_text = render_card_html({"card_version": 1, "student_id": "<ana>", "as_of": 60.0,
    ...                               "risk": {"probability": 0.41, "tier": "high"}})
    >>> "&lt;ana&gt;" in html_text and "41%" in html_text
    True

    A card whose ``student_id`` is None (a withheld identifier) says so, in its heading and in
    a full page's title:

    >>> page = render_card_html({"student_id": None, "as_of": 60.0}, full_page=True)
    >>> "<title>Profile card (identifier withheld)</title>" in page, "None" in page
    (True, False)
    """
    if not isinstance(card, dict) or "student_id" not in card:
        raise SchemaError("a card is the dictionary profile_card returns", table="card",
                          rule="dataframe", arrived=type(card).__name__)
    e = html.escape
    sid = card["student_id"]
    who = "Student (identifier withheld)" if sid is None else f"Student {sid}"
    out = [f"<style>{_CSS}</style>", '<div class="sp-card">']
    risk = card.get("risk")
    tier_html = ""
    if risk and risk.get("tier"):
        level = risk.get("tier")
        cls = "t2" if str(level).lower() in ("high", "urgent", "red") else "t1"
        tier_html = f'<span class="sp-tier {cls}">{e(str(level))}</span>'
    out.append(
        f'<div class="sp-head"><h2>{e(who)}</h2>'
        f'<span class="sp-sub">as of {e(str(card.get("as_of")))}</span></div>'
    )
    if risk and risk.get("probability") is not None:
        trend = _spark([None if h.get("probability") is None else h["probability"] * 100
                        for h in risk.get("history", [])])
        out.append(
            f'<div><span class="sp-risk">{risk["probability"] * 100:.0f}%</span>'
            f'<span class="sp-sub">{e(str(risk.get("label", "risk")))}</span> {tier_html} '
            f"{trend}</div>"
        )
    reasons = card.get("reasons")
    if reasons:
        out.append("<h3>Why</h3><ol>")
        for r in reasons:
            d = r.get("direction")
            arrow = ('<span class="sp-up">&#9650;</span> ' if d == "raised" else
                     '<span class="sp-down">&#9660;</span> ' if d == "lowered" else "")
            out.append(f"<li>{arrow}{e(str(r.get('text', '')))}</li>")
        out.append("</ol>")
    dims = card.get("dimensions")
    if dims:
        ptype = card.get("profile_type")
        out.append("<h3>Profile</h3>")
        if ptype:
            out.append(f'<div class="sp-type">Profile type: <b>{e(str(ptype["name"]))}</b></div>')
        out.append('<table class="sp-dims">')
        for d in dims:
            p = d.get("percentile")
            if p is None and d.get("parent"):
                continue
            sub = ' class="sub"' if d.get("parent") else ""
            sens = ' <span class="sp-sens">(sensitive)</span>' if d.get("sensitive") else ""
            bar = (f'<div class="sp-bar" title="{e(str(d.get("description", "")))}">'
                   f'<span style="width:{0 if p is None else p:.0f}%"></span><i></i></div>')
            value = "no data" if p is None else _ordinal(p)
            ch = d.get("change")
            if ch is None or abs(ch) < 0.5:
                change = ""
            elif ch > 0:
                change = f'<span class="sp-down">&#9650;{abs(ch):.0f}</span>'
            else:
                change = f'<span class="sp-up">&#9660;{abs(ch):.0f}</span>'
            out.append(
                f'<tr{sub}><td class="l">{e(str(d["label"]))}{sens}</td><td>{bar}</td>'
                f'<td class="sp-num">{value}</td><td class="sp-num">{change}</td>'
                f"<td>{_spark(d.get('history', []))}</td></tr>"
            )
        out.append("</table>")
    alerts = card.get("alerts")
    if alerts:
        out.append('<h3>Recent alerts</h3><table class="sp-alerts"><tr><th>date</th>'
                   "<th>tier</th><th>status</th><th>staff</th></tr>")
        for a in alerts:
            out.append(
                f"<tr><td>{e(str(a.get('as_of')))}</td><td>{e(str(a.get('tier') or ''))}</td>"
                f"<td>{e(str(a.get('status') or ''))}</td>"
                f"<td>{e(str(a.get('staff') or ''))}</td></tr>"
            )
        out.append("</table>")
    notes = card.get("notes") or []
    foot = " ".join(e(str(n)) for n in notes)
    out.append(f'<div class="sp-foot">{foot} {e(str(card.get("generated_by", "")))}</div>')
    out.append("</div>")
    fragment = "\n".join(out)
    if not full_page:
        return fragment
    title = e("Profile card (identifier withheld)" if sid is None
              else f"Profile card: student {sid}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}'
            f"</title></head><body>\n{fragment}\n</body></html>\n")
