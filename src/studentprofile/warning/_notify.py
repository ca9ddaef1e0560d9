"""Per-advisor digests of new and overdue cases, and sending them once.

:func:`build_digests` turns the cases frame (the case store's contract,
:data:`studentprofile.evaluation.CASE_COLUMNS`) into one :class:`Digest` per advisor: their new
and overdue cases and nothing else, as plain text, HTML and a JSON payload, under a deterministic
key. :func:`send_digests` hands them to a notifier (:class:`~studentprofile.warning.SmtpNotifier`,
:class:`~studentprofile.warning.WebhookNotifier`, or any object with the
:class:`~studentprofile.warning.Notifier` shape), retrying with backoff, recording every attempt
in a :class:`~studentprofile.warning.NotificationLedger` and never sending a key twice.

Logs carry counts, digest keys, hashed advisor keys and error classes only: never a student id,
a reason, an address or an advisor's name.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, NotificationError, SchemaError
from studentprofile.evaluation._case_frames import (
    case_moment,
    case_state,
    check_cases,
    moment_text,
    moment_texts,
)
from studentprofile.tables import _checks
from studentprofile.tables._time import as_days
from studentprofile.warning._cards import card_file_stem
from studentprofile.warning._ledger import NotificationLedger
from studentprofile.warning._notifiers import Notifier

__all__ = ["DIGEST_SCHEMA", "Digest", "SendReport", "advisor_hash", "build_digests",
           "send_digests"]

log = logging.getLogger(__name__)

AMBIGUOUS_ADDRESS = "each member of staff must have one e-mail address"

#: The ``schema`` field of every digest payload (bumped when the payload's shape changes).
DIGEST_SCHEMA = "studentprofile.digest/1"

# the fields of one case in a digest: all the advisor needs to act, nothing about others
_CASE_FIELDS = ("case_id", "student_id", "tier", "risk", "reason_families", "reason_codes",
                "opened_at", "due_first_contact", "status")

_STYLE = (
    "font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1b1b;"
)
_CELL = "border:1px solid #c8c8c8;padding:4px 8px;text-align:left;vertical-align:top"


def advisor_hash(advisor: str) -> str:
    """Return the 12-hex-digit key under which an advisor appears in logs.

    Parameters
    ----------
    advisor : str
        The advisor's key (a case's ``owner``).

    Returns
    -------
    str
        The first 12 hex digits of the SHA-256 of the key (UTF-8).

    Examples
    --------
    >>> advisor_hash("kim")
    '26ae784d194a'
    """
    return hashlib.sha256(str(advisor).encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(frozen=True)
class Digest:
    """One advisor's digest: their new and overdue cases as text, HTML and JSON.

    Attributes
    ----------
    key : str
        32 hex digits of the SHA-256 of (advisor, as-of date, content hash): the same cases on
        the same date give the same key, so a ledger can refuse to send it twice.
    advisor : str
        The advisor's key (the cases' ``owner``).
    recipient : str or None
        The advisor's address from ``staff=`` (``None`` when unknown).
    as_of : str
        The digest's date (ISO 8601, or ``"day <n>"`` for float-day times).
    subject, text, html : str
        The e-mail subject, plain-text body and HTML body (every value escaped).
    payload : dict
        JSON-ready: ``schema``, ``key``, ``advisor``, ``as_of``, ``counts`` and the ``overdue``
        and ``new`` case lists.
    n_new, n_overdue : int
        How many cases each list holds (disjoint: an overdue case is listed as overdue only).
    """

    key: str
    advisor: str
    recipient: str | None
    as_of: str
    subject: str
    text: str
    html: str
    payload: dict[str, Any] = field(repr=False)
    n_new: int = 0
    n_overdue: int = 0

    def to_json(self) -> str:
        """Return the payload as compact JSON text (UTF-8 safe, keys sorted).

        Returns
        -------
        str
            The body a webhook receives.
        """
        return json.dumps(self.payload, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"), allow_nan=False)

    def __repr__(self) -> str:
        return (f"Digest(key={self.key[:12]!r}, advisor={advisor_hash(self.advisor)!r} (hashed), "
                f"as_of={self.as_of!r}, new={self.n_new}, overdue={self.n_overdue})")


def _recipients(staff: Any) -> dict[str, str]:
    if staff is None:
        return {}
    if isinstance(staff, Mapping):
        return {str(k): str(v) for k, v in staff.items() if v is not None}
    frame = _checks.require_frame(staff, "staff")
    _checks.require_columns(frame, "staff", ["staff", "email"])
    keep = frame["email"].notna().to_numpy()
    pairs = pd.DataFrame({"staff": frame["staff"][keep].map(str).to_numpy(),
                          "email": frame["email"][keep].map(str).str.strip().to_numpy()})
    pairs = pairs.drop_duplicates()
    twice = pairs["staff"].duplicated(keep=False).to_numpy()
    if twice.any():
        raise SchemaError(
            AMBIGUOUS_ADDRESS,
            table="staff",
            column="email",
            rule="one-address",
            arrived=f"staff {_checks.show_values(pairs['staff'][twice].unique())} with more "
            "than one address",
            rows=_checks.show_rows(pairs, twice, ["staff", "email"]),
            n_bad=int(twice.sum()),
            hint="keep one address per member of staff (a digest goes to one person)",
        )
    return dict(zip(pairs["staff"], pairs["email"], strict=True))


def build_digests(
    cases: Any,
    *,
    as_of: Any,
    staff: Any = None,
    window: Any = 7.0,
    card_url: str | None = None,
) -> list[Digest]:
    """Build one digest per advisor with their new and overdue open cases.

    A case is **overdue** when it is open (``status`` is not ``"closed"``), has no first contact
    by ``as_of`` and its ``due_first_contact`` is before ``as_of``; it is **new** when it is open,
    not overdue, and was opened in the ``window`` days up to ``as_of``. Each digest holds only the
    owner's own cases (id, student id, tier, risk, reasons, dates, status); cases without an
    owner and advisors with nothing new or overdue get no digest.

    Parameters
    ----------
    cases : DataFrame
        The cases frame (:data:`studentprofile.evaluation.CASE_COLUMNS`).
    as_of : datetime-like or float
        The digest's date (of the frames' kind of time).
    staff : DataFrame or mapping, optional
        Advisors' addresses: a frame with ``staff`` (the owner key) and ``email``, or a mapping
        owner -> address. Advisors without one get ``recipient=None``.
    window : float or Timedelta, default 7
        Days back from ``as_of`` in which an opened case is new.
    card_url : str, optional
        Base URL of the profile cards; each case then links to
        ``{card_url}/{card_file_stem(student_id)}.html``.

    Returns
    -------
    list of Digest
        Sorted by advisor.

    Raises
    ------
    SchemaError
        The cases frame breaks its contract.
    ConfigError
        ``as_of`` or ``window`` is not a date / duration of the frame's kind.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.evaluation import CASE_COLUMNS
    >>> cases = pd.DataFrame({c: [None, None] for c in CASE_COLUMNS}).assign(
    ...     case_id=["c1", "c2"], student_id=["s1", "s2"], as_of="2026-11-09",
    ...     opened_at=["2026-11-09", "2026-10-26"], tier=["high", "medium"], risk=[0.8, 0.4],
    ...     reason_codes=["attendance_drop", "late_submissions"], owner=["kim", "lee"],
    ...     status="open", due_first_contact=["2026-11-16", "2026-11-02"])
    >>> [(d.advisor, d.n_new, d.n_overdue) for d in build_digests(cases, as_of="2026-11-10")]
    [('kim', 1, 0), ('lee', 0, 1)]
    >>> build_digests(cases, as_of="2026-11-10")[0].subject
    'Early-warning digest for 2026-11-10: 1 new case, 0 overdue'
    """
    frame = check_cases(cases)
    kind = frame.attrs["time_kind"]
    at = case_moment(as_of, kind, "as_of")
    window_days = float(as_days(window, key="window"))
    if card_url is not None and not isinstance(card_url, str):
        raise ConfigError("card_url must be text (a base URL)", key="card_url",
                          arrived=repr(card_url), hint="pass e.g. 'https://advising/cards'")
    recipients = _recipients(staff)

    state = case_state(frame, at, window=window_days)
    owned = (frame["owner"] != "").to_numpy()
    pick = (state["overdue"] | state["new"]).to_numpy() & owned
    rows = frame[pick].assign(_overdue=state["overdue"][pick], _due=state["due"][pick],
                              _opened=state["opened"][pick])
    as_of_text = moment_text(at, kind)

    # one sort for everyone: each advisor's overdue cases first (earliest due, then highest
    # risk), then the new ones (highest risk, then earliest opened); the case id breaks ties
    over = rows["_overdue"].to_numpy()
    rows = rows.assign(
        _section=np.where(over, 0, 1),
        _k1=np.where(over, rows["_due"], -rows["risk"]),
        _k2=np.where(over, -rows["risk"], rows["_opened"]),
    ).sort_values(["owner", "_section", "_k1", "_k2", "case_id"], kind="mergesort")
    lists: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    opened_text = moment_texts(rows["_opened"], kind)
    due_text = moment_texts(rows["_due"], kind)
    days_over = np.where(rows["_overdue"], np.floor(at - rows["_due"].to_numpy()), 0.0)
    columns = {c: rows[c].tolist() for c in ("owner", "case_id", "student_id", "tier", "risk",
                                             "reason_families", "reason_codes", "status",
                                             "_overdue")}
    for i in range(len(rows)):
        advisor = str(columns["owner"][i])
        risk = float(columns["risk"][i])
        sid = columns["student_id"][i]
        # plain Python values only: the payload is JSON as it is
        item: dict[str, Any] = {
            "case_id": str(columns["case_id"][i]),
            "student_id": str(sid),
            "tier": str(columns["tier"][i]),
            "risk": round(risk, 3) if np.isfinite(risk) else None,
            "reason_families": _split(columns["reason_families"][i]),
            "reason_codes": _split(columns["reason_codes"][i]),
            "opened_at": opened_text[i],
            "due_first_contact": due_text[i],
            "status": str(columns["status"][i]),
            "days_overdue": float(days_over[i]),
        }
        if card_url is not None:
            item["card"] = f"{card_url.rstrip('/')}/{card_file_stem(sid)}.html"
        overdue_items, new_items = lists.setdefault(advisor, ([], []))
        (overdue_items if columns["_overdue"][i] else new_items).append(item)
    return [_digest(advisor, recipients.get(advisor), as_of_text, window_days, od, nw)
            for advisor, (od, nw) in lists.items()]


def _split(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(";") if part.strip()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _digest(advisor: str, recipient: str | None, as_of_text: str, window: float,
            overdue: list[dict[str, Any]], new: list[dict[str, Any]]) -> Digest:
    content = {"advisor": advisor, "as_of": as_of_text, "window_days": window,
               "overdue": overdue, "new": new}
    content_hash = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        .encode("utf-8", "surrogatepass")).hexdigest()
    key = hashlib.sha256("\x1f".join([advisor, as_of_text, content_hash])
                         .encode("utf-8", "surrogatepass")).hexdigest()[:32]
    payload = {"schema": DIGEST_SCHEMA, "key": key, "advisor": advisor, "as_of": as_of_text,
               "window_days": window, "counts": {"new": len(new), "overdue": len(overdue)},
               "overdue": content["overdue"], "new": content["new"]}
    subject = (f"Early-warning digest for {as_of_text}: {_plural(len(new), 'new case')}, "
               f"{len(overdue)} overdue")
    return Digest(key=key, advisor=advisor, recipient=recipient, as_of=as_of_text,
                  subject=subject, text=_text(payload), html=_html(payload, subject),
                  payload=payload, n_new=len(new), n_overdue=len(overdue))


def _reasons(item: Mapping[str, Any]) -> str:
    return "; ".join(item["reason_codes"]) or "; ".join(item["reason_families"]) or "-"


def _sections(payload: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return (("overdue", "Overdue: first contact was due"),
            ("new", f"New in the last {_plural_days(payload['window_days'])}"))


def _plural_days(days: float) -> str:
    return "day" if days == 1 else f"{days:g} days"


def _text(payload: Mapping[str, Any]) -> str:
    lines = [f"Your early-warning cases as of {payload['as_of']}", ""]
    for section, title in _sections(payload):
        items = payload[section]
        lines.append(f"{title} ({len(items)})")
        if not items:
            lines.append("  none")
        for it in items:
            late = (f", {it['days_overdue']:g} day(s) overdue" if section == "overdue" else "")
            lines.append(f"  - case {it['case_id']}: student {it['student_id']}, tier {it['tier']}"
                         f", first contact due {it['due_first_contact']}{late}")
            lines.append(f"    reasons: {_reasons(it)}")
            if "card" in it:
                lines.append(f"    profile card: {it['card']}")
        lines.append("")
    lines.append(f"Digest {payload['key']}")
    return "\n".join(lines) + "\n"


def _html(payload: Mapping[str, Any], subject: str) -> str:
    e = html.escape
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(subject)}'
             f'</title></head><body style="{_STYLE}">',
             f"<h1 style=\"font-size:1.3em\">Your early-warning cases as of {e(payload['as_of'])}"
             "</h1>"]
    for section, title in _sections(payload):
        items = payload[section]
        parts.append(f"<h2 style=\"font-size:1.1em\">{title} ({len(items)})</h2>")
        if not items:
            parts.append("<p>None.</p>")
            continue
        parts.append('<table style="border-collapse:collapse"><thead><tr>'
                     + "".join(f'<th style="{_CELL}">{h}</th>' for h in
                               ("case", "student", "tier", "risk", "reasons", "first contact due",
                                "status"))
                     + "</tr></thead><tbody>")
        for it in items:
            student = e(it["student_id"])
            if "card" in it:
                student = f'<a href="{e(it["card"], quote=True)}">{student}</a>'
            due = e(it["due_first_contact"])
            if section == "overdue":
                due += (f' <strong style="color:#b00020">({it["days_overdue"]:g} day(s) '
                        "overdue)</strong>")
            risk = "" if it["risk"] is None else f"{it['risk']:.2f}"
            parts.append("<tr>" + "".join(f'<td style="{_CELL}">{v}</td>' for v in (
                e(it["case_id"]), student, e(it["tier"]), risk, e(_reasons(it)), due,
                e(it["status"]))) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f'<p style="color:#555;font-size:0.85em">Digest {e(payload["key"])}</p>'
                 "</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- sending
@dataclass(frozen=True)
class SendReport:
    """What :func:`send_digests` did, one row per digest.

    Attributes
    ----------
    frame : DataFrame
        ``digest_key``, ``advisor_hash``, ``status`` (``sent``, ``failed``, ``already_sent``,
        ``in_doubt``, ``claimed_elsewhere``, ``channel_down``), ``attempts`` (made in this call)
        and
        ``error_class`` (of the last failure).
    """

    frame: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        """Digests per status."""
        return {str(k): int(v) for k, v in self.frame["status"].value_counts().items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"SendReport({inner or 'nothing to send'})"


def _delay(backoff: float, attempt: int, max_backoff: float) -> float:
    return float(min(max_backoff, backoff * 2 ** (attempt - 1)))


def send_digests(
    digests: Iterable[Digest],
    notifier: Notifier,
    ledger: NotificationLedger,
    *,
    retries: int = 3,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    give_up_after: int | None = 3,
) -> SendReport:
    """Send each digest through ``notifier`` at most once, retrying failures with backoff.

    For each digest: a key the ledger holds as sent on this notifier's channel is skipped
    (``already_sent``), and so is one with an attempt that never finished (``in_doubt``: a
    process may have died mid-send; the ledger's :meth:`~NotificationLedger.in_doubt` lists
    them for a person to settle). Otherwise each attempt is first *claimed* in the ledger (a
    database row that only one sender can insert) and then made; its outcome is recorded.
    Failures worth retrying (:class:`~studentprofile.errors.NotificationError` with
    ``retry=True``: a refused connection, a timeout, a temporary reply) are retried after
    ``backoff``, ``2 * backoff``, ... seconds (at most ``max_backoff``); refusals
    (``retry=False``, a :class:`~studentprofile.errors.ConfigError` such as a host outside the
    allow-list) are recorded once and not retried.

    Parameters
    ----------
    digests : iterable of Digest
        From :func:`build_digests`.
    notifier : Notifier
        :class:`SmtpNotifier`, :class:`WebhookNotifier` or any object with ``channel`` and
        ``send(digest)``.
    ledger : NotificationLedger
        Where claims and outcomes are recorded.
    retries : int, default 3
        Retries after the first attempt (so at most ``retries + 1`` attempts per call).
    backoff : float, default 1.0
        Seconds before the first retry; doubled for each further one.
    max_backoff : float, default 60.0
        The longest wait between two attempts.
    give_up_after : int or None, default 3
        When this many digests in a row failed every attempt with a retryable error (the
        server is down), the rest are not tried in this call (``channel_down``, nothing
        claimed); the next run sends them. ``None`` tries every digest.

    Returns
    -------
    SendReport
        One row per digest.

    Raises
    ------
    ConfigError
        ``retries`` or ``backoff`` is out of range.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from studentprofile.evaluation import CASE_COLUMNS
    >>> from studentprofile.warning import NotificationLedger
    >>> class Outbox:
    ...     channel = "outbox"
    ...     def __init__(self):
    ...         self.sent = []
    ...     def send(self, digest):
    ...         self.sent.append(digest.key)
    >>> cases = pd.DataFrame({c: [None] for c in CASE_COLUMNS}).assign(
    ...     case_id="c1", student_id="s1", as_of="2026-11-09", opened_at="2026-11-09",
    ...     tier="high", risk=0.8, owner="kim", status="open", due_first_contact="2026-11-16")
    >>> digests = build_digests(cases, as_of="2026-11-10")
    >>> ledger = NotificationLedger(pathlib.Path(tempfile.mkdtemp()) / "ledger.db")
    >>> outbox = Outbox()
    >>> send_digests(digests, outbox, ledger)
    SendReport(sent=1)
    >>> send_digests(digests, outbox, ledger), len(outbox.sent)
    (SendReport(already_sent=1), 1)
    """
    if isinstance(retries, bool) or not isinstance(retries, int | np.integer) or retries < 0:
        raise ConfigError("retries must be a whole number >= 0", key="retries",
                          arrived=repr(retries), hint="e.g. retries=3")
    for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not np.isfinite(value) or value < 0):
            raise ConfigError(f"{name} must be a number of seconds >= 0", key=name,
                              arrived=repr(value), hint=f"e.g. {name}=1.0")
    if not isinstance(notifier, Notifier):
        raise ConfigError("the notifier needs a `channel` and a `send(digest)` method",
                          key="notifier", arrived=f"an object of type {type(notifier).__name__}",
                          hint="pass an SmtpNotifier, a WebhookNotifier or an object of that "
                          "shape")
    if give_up_after is not None and (isinstance(give_up_after, bool) or not isinstance(
            give_up_after, int | np.integer) or give_up_after < 1):
        raise ConfigError("give_up_after must be a whole number >= 1, or None",
                          key="give_up_after", arrived=repr(give_up_after),
                          hint="e.g. give_up_after=3")
    channel = str(notifier.channel)
    rows: list[tuple[str, str, str, int, str | None]] = []
    down_in_a_row = 0
    for digest in digests:
        if not isinstance(digest, Digest):
            raise ConfigError("send_digests takes the digests of build_digests",
                              key="digests", arrived=f"an item of type {type(digest).__name__}",
                              hint="pass build_digests(cases, as_of=...)")
        who = advisor_hash(digest.advisor)
        if give_up_after is not None and down_in_a_row >= give_up_after:
            rows.append((digest.key, who, "channel_down", 0, None))
            continue
        state = ledger._state(digest.key, channel)
        if state.sent:
            rows.append((digest.key, who, "already_sent", 0, None))
            log.info("digest %s (advisor %s): already sent on this channel, skipped",
                     digest.key[:12], who)
            continue
        if state.in_doubt:
            rows.append((digest.key, who, "in_doubt", 0, None))
            log.warning("digest %s (advisor %s): an earlier attempt never finished; skipped "
                        "(settle it in the ledger)", digest.key[:12], who)
            continue
        status, made, error_class, retry = "failed", 0, None, False
        for attempt in range(state.attempts + 1, state.attempts + retries + 2):
            if made:
                time.sleep(_delay(backoff, made, max_backoff))
                if ledger._state(digest.key, channel).sent:  # another sender got through
                    status = "already_sent"
                    break
            if not ledger._claim(digest, channel, attempt):
                status = "claimed_elsewhere"
                log.warning("digest %s (advisor %s): claimed by another sender, skipped",
                            digest.key[:12], who)
                break
            made += 1
            started = time.monotonic()
            try:
                notifier.send(digest)
            except (NotificationError, ConfigError, SchemaError) as exc:
                error_class = type(exc).__name__
                retry = isinstance(exc, NotificationError) and exc.retry
                ledger._record(digest.key, channel, attempt, "failed",
                               time.monotonic() - started, exc)
                log.warning("digest %s (advisor %s): attempt %d failed (%s%s)",
                            digest.key[:12], who, attempt, error_class,
                            "" if retry else ", not retried")
                if not retry:
                    break
            else:
                ledger._record(digest.key, channel, attempt, "sent",
                               time.monotonic() - started, None)
                status, error_class = "sent", None
                log.info("digest %s (advisor %s): sent on attempt %d", digest.key[:12], who,
                         attempt)
                break
        rows.append((digest.key, who, status, made, error_class))
        down_in_a_row = down_in_a_row + 1 if status == "failed" and retry else 0
        if give_up_after is not None and down_in_a_row == give_up_after:
            log.warning("%d digests in a row failed on %s; the rest wait for the next run",
                        down_in_a_row, _safe_channel(channel))
    frame = pd.DataFrame(rows, columns=["digest_key", "advisor_hash", "status", "attempts",
                                        "error_class"])
    report = SendReport(frame.astype({"attempts": "int64"}))
    log.info("digests on %s: %s", _safe_channel(channel), report.counts or "none")
    return report


def _safe_channel(channel: str) -> str:
    # a channel never carries credentials (notifiers build it without them); keep it short
    return channel[:120]
