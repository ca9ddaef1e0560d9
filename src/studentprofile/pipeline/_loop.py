"""The closed loop of the weekly job: caseloads by role, cases, digests, the advisor's site.

With ``store=``, :func:`~studentprofile.pipeline.weekly_alerts` goes on after the alert log, in
one database (a SQLite file or PostgreSQL) that holds the alert log, the cases and the
notification ledger:

1. the staff's free capacity per role is their capacity minus their active cases in the store;
2. each alert needs its owner (the routing's ``owner_role``) plus the roles its reasons call
   for (:class:`~studentprofile.warning.Routing`, reading the reasons that *raised* the risk);
   :func:`~studentprofile.warning.assign_caseloads` assigns them highest risk first;
3. :meth:`CaseStore.open_cases` opens one case per new alert, records the assignment (owner
   and assignees) and the first-contact due date (idempotent: a rerun opens nothing);
4. :func:`~studentprofile.warning.build_digests` builds each owner's digest of new and overdue
   cases, sent through an optional notifier at most once (the
   :class:`~studentprofile.warning.NotificationLedger` in the same database);
5. with an output folder: :func:`~studentprofile.warning.write_advisor_site` (``index.html``
   beside the cards) and the loop report (:func:`loop_report`).

Cases are opened at the job's as-of moment, so a week replayed later is dated as it happened.
Logs carry counts only, never a student id.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.pipeline._loop_report import LoopReport, loop_report, shown_target

__all__ = ["STORE_ENV", "LoopInputs", "LoopResult", "WeeklyLoop", "loop_inputs",
           "plan_caseloads", "read_people", "routing_of"]

#: The environment variable the command line reads the store's URL from (keeps a password out
#: of the shell history).
STORE_ENV = "STUDENTPROFILE_STORE_URL"

NOTIFIER_WITHOUT_STORE = "a notifier needs a store (the digests come from its cases)"
STAFF_TWICE = "give the staff once: staff= (staff_id, role, capacity) or advisors="
FLOAT_DAYS = "the case store keeps wall-clock dates; these tables count time in float days"


def read_people(value: Any, *, key: str, id_column: str) -> pd.DataFrame:
    r"""Return a staff or advisors frame: a DataFrame as it is, or read from a CSV file.

    Ids, roles, units, addresses and programmes are read as text (leading zeros kept);
    ``programmes`` is ``;``-separated in a file (empty: every programme).

    Parameters
    ----------
    value : DataFrame or path
        The frame, or a CSV file.
    key : str
        The parameter's name, for errors (``"staff"``, ``"advisors"``).
    id_column : str
        The id column (``"staff_id"``, ``"advisor_id"``).

    Returns
    -------
    DataFrame

    Raises
    ------
    ConfigError
        The file does not exist.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "staff.csv"
    >>> _ = path.write_text("staff_id,role,capacity,programmes\n007,advisor,3,AAA;BBB\n")
    >>> read_people(path, key="staff", id_column="staff_id").loc[0, ["staff_id", "programmes"]]
    staff_id             007
    programmes    [AAA, BBB]
    Name: 0, dtype: object
    """
    if isinstance(value, pd.DataFrame):
        return value
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{key} must be a DataFrame or a CSV file", key=key,
                          arrived=f"an object of type {type(value).__name__}")
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"the {key} file does not exist", key=key, arrived=str(path),
                          hint=f"a CSV with {id_column}, "
                               + ("role, " if id_column == "staff_id" else "")
                               + "capacity and optional programmes (separated by ';')"
                               + (", unit, email" if id_column == "staff_id" else ""))
    text = {c: "string" for c in (id_column, "role", "unit", "email", "programmes")}
    # utf-8-sig: a spreadsheet's byte-order mark must not rename the first column
    frame = pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""],
                        encoding="utf-8-sig")
    if "programmes" in frame.columns:
        lists: list[list[str] | None] = [
            None if pd.isna(v) or not str(v).strip()
            else [p.strip() for p in str(v).split(";") if p.strip()]
            for v in frame["programmes"]
        ]
        frame["programmes"] = pd.Series(lists, index=frame.index, dtype=object)
    return frame


@dataclass(frozen=True)
class LoopInputs:
    """The checked inputs of the closed loop (see :func:`loop_inputs`)."""

    target: str = field(repr=False)  # may hold a password: never shown
    shown: str
    routing: Any
    first_contact_days: float
    notifier: Any = None
    card_url: str | None = None
    retries: int = 3


def routing_of(routing: Any) -> Any:
    """Return a :class:`~studentprofile.warning.Routing`: as given, or from a TOML file.

    ``None`` gives the default routing: every case to the ``advisor`` role.

    Examples
    --------
    >>> routing_of(None).roles_of([{"family": "academic"}])
    ['advisor']
    """
    from studentprofile.warning import Routing

    if routing is None:
        return Routing()
    if isinstance(routing, Routing):
        return routing
    if isinstance(routing, str | os.PathLike):
        return Routing.from_toml(routing)
    raise ConfigError("routing must be a Routing or a TOML file", key="routing",
                      arrived=f"an object of type {type(routing).__name__}",
                      hint="e.g. routing='routing.toml' (see docs/closed-loop.md)")


def loop_inputs(*, store: Any, routing: Any, first_contact_days: Any, notifier: Any,
                card_url: Any, time_kind: str, retries: Any = 3) -> LoopInputs | None:
    """Check the closed loop's parameters before anything is written; ``None`` without a store.

    Raises
    ------
    ConfigError
        A notifier without a store, float-day tables with a store, a bad
        ``first_contact_days``, ``card_url`` or ``retries``.
    """
    from studentprofile.warning import Notifier

    if store is None:
        if notifier is not None:
            raise ConfigError(NOTIFIER_WITHOUT_STORE, key="notifier",
                              arrived=type(notifier).__name__,
                              hint="pass store= (a file path or a database URL) as well")
        return None
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if not isinstance(store, str) or not store.strip():
        raise ConfigError("the store must be a file path or a database URL", key="store",
                          arrived=repr(store) if not isinstance(store, str) else "''",
                          hint=f"e.g. cases.sqlite, or postgresql+psycopg://host/db (the "
                               f"command line reads ${STORE_ENV})")
    if time_kind != "datetime":
        raise ConfigError(FLOAT_DAYS, key="store", arrived=f"{time_kind} times",
                          hint="declare the tables' time origin so their times are dates, or "
                               "run the job without store=")
    if "${" in store:
        from studentprofile.io import expand_url

        target = expand_url(store, source="store")
    else:
        target = store
    fcd = first_contact_days
    if isinstance(fcd, bool) or not isinstance(fcd, int | float | np.integer | np.floating) \
            or not math.isfinite(fcd) or fcd < 0:
        raise ConfigError("first_contact_days must be a finite number of days >= 0",
                          key="first_contact_days", arrived=repr(fcd), hint="e.g. 5")
    if notifier is not None and not isinstance(notifier, Notifier):
        raise ConfigError("the notifier needs a `channel` and a `send(digest)` method",
                          key="notifier", arrived=f"an object of type {type(notifier).__name__}",
                          hint="pass an SmtpNotifier or a WebhookNotifier")
    if isinstance(retries, bool) or not isinstance(retries, int | np.integer) or retries < 0:
        raise ConfigError("digest_retries must be a whole number >= 0", key="digest_retries",
                          arrived=repr(retries), hint="e.g. 3")
    if card_url is not None and not isinstance(card_url, str):
        raise ConfigError("card_url must be text (the base URL of the cards)", key="card_url",
                          arrived=repr(card_url), hint="e.g. 'https://advising.campus.edu/cards'")
    return LoopInputs(target=target, shown=shown_target(target), routing=routing,
                      first_contact_days=float(fcd), notifier=notifier, card_url=card_url,
                      retries=int(retries))


def _free_capacity(people: pd.DataFrame, load: pd.DataFrame | None,
                   owner_role: str) -> pd.DataFrame:
    """Capacity minus each person's active cases in the store, per role (never below 0)."""
    if load is None or not len(load) or "capacity" not in people.columns:
        return people
    id_col = "staff_id" if "staff_id" in people.columns else "advisor_id"
    if id_col not in people.columns:
        return people  # assign_caseloads says what is missing
    cap = pd.to_numeric(people["capacity"], errors="coerce")
    if cap.isna().any():
        return people  # assign_caseloads refuses the bad capacities with the rows
    roles = (people["role"].map(str) if "role" in people.columns
             else pd.Series(owner_role, index=people.index))
    active = load.groupby(["staff_id", "role"])["active"].sum().to_dict()
    used = np.array([active.get((str(s), r), 0)
                     for s, r in zip(people[id_col], roles, strict=True)], dtype="int64")
    free = np.maximum(cap.to_numpy() - used, 0)
    return people.assign(capacity=free.astype(cap.dtype))


def plan_caseloads(
    alerts: pd.DataFrame,
    people: pd.DataFrame,
    *,
    routing: Any,
    lookup: Mapping[Any, list[dict[str, Any]]] | None,
    programmes: pd.Series | None,
    load: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assign today's alerts to staff: the owner role plus the roles their reasons call for.

    ``people`` is a staff frame (``staff_id``, ``role``, ``capacity``, ...) or an advisors frame
    (``advisor_id``, ``capacity``, ...: owners only). ``load`` (the store's active cases per
    person and role) is subtracted from the capacities.
    """
    from studentprofile.warning import assign_caseloads
    from studentprofile.warning._reasons import day_key

    studs = alerts[["student_id", "score"]].copy()
    if programmes is not None:
        studs["programme"] = programmes.reindex(studs["student_id"]).to_numpy()
    if "staff_id" in people.columns:
        needs = []
        for sid, when in zip(alerts["student_id"], alerts["as_of"], strict=True):
            recs = lookup.get((sid, day_key(when)), []) if lookup is not None else []
            # the case store routes a case without coded reasons to the default role too
            needs.append(";".join(dict.fromkeys([routing.owner_role, *routing.roles_of(recs)])))
        studs["roles"] = needs
    return assign_caseloads(studs, _free_capacity(people, load, routing.owner_role))


def _addresses(people: pd.DataFrame | None) -> pd.DataFrame | None:
    if people is None or "email" not in people.columns:
        return None
    id_col = "staff_id" if "staff_id" in people.columns else "advisor_id"
    if id_col not in people.columns:
        return None
    keep = people["email"].notna().to_numpy()
    return pd.DataFrame({"staff": people[id_col][keep].map(str).to_numpy(),
                         "email": people["email"][keep].map(str).to_numpy()})


@dataclass
class LoopResult:
    """What the closed loop of one weekly job did.

    Attributes
    ----------
    store : str
        The store (a URL without credentials).
    opened : OpenResult
        Cases opened (``n_new``), alerts that already had one (``n_existing``), ``case_ids``.
    digests : list of Digest
        Each owner's digest of new and overdue cases.
    sent : SendReport or None
        What the notifier did with each digest (``None`` without a notifier).
    site : AdvisorSite or None
        The advisor's site (with an output folder).
    report : LoopReport
        The loop report over the store as of the job's date.
    files : dict of str -> Path
        ``site`` (``index.html``), ``loop_report`` and ``loop_report_json``.
    """

    store: str
    opened: Any
    digests: list[Any]
    sent: Any
    site: Any
    report: LoopReport
    channel: str | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return counts only (no student ids): for logs and ``--json``."""
        h = self.report.headline
        return {
            "store": self.store,
            "cases_opened": int(self.opened.n_new),
            "cases_already_open": int(self.opened.n_existing),
            "cases_by_status": dict(self.report.counts.get("by_status", {})),
            "digests": len(self.digests),
            "digests_new_cases": int(sum(d.n_new for d in self.digests)),
            "digests_overdue_cases": int(sum(d.n_overdue for d in self.digests)),
            "channel": self.channel,
            "digests_by_status": self.sent.counts if self.sent is not None else {},
            "site_pages": len(self.site.pages) if self.site is not None else 0,
            "report": {k: h[k] for k in ("cases", "judged", "judged_precision",
                                         "statistical_precision", "contacted",
                                         "median_days_to_contact", "overdue")},
            "files": {k: str(v) for k, v in self.files.items()},
        }

    @property
    def failed(self) -> int:
        """Digests not delivered (failed, channel down, or in doubt since an earlier run)."""
        if self.sent is None:
            return 0
        counts = self.sent.counts
        return int(sum(counts.get(k, 0) for k in ("failed", "channel_down", "in_doubt")))


class WeeklyLoop:
    """The case store of one weekly job, open from the caseloads to the report.

    Parameters
    ----------
    inputs : LoopInputs
        From :func:`loop_inputs`.
    say : callable
        Progress messages (counts only).
    """

    def __init__(self, inputs: LoopInputs, *, say: Callable[[str], None]) -> None:
        from studentprofile.warning import CaseStore

        self.inputs = inputs
        self.say = say
        self.cases = CaseStore(inputs.target)

    def close(self) -> None:
        """Release the store's connections."""
        self.cases.close()

    def __enter__(self) -> WeeklyLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, at: Any) -> pd.DataFrame:
        """Each staff member's active cases per role (what the capacities subtract)."""
        out: pd.DataFrame = self.cases.load(now=at)
        return out

    def open(self, alerts: pd.DataFrame, plan: pd.DataFrame | None, *, reasons: Any,
             at: Any, model_version: str) -> Any:
        """Open a case per new alert, routed by reason, with the plan's owner and assignees."""
        self.say(f"opening cases for {len(alerts):,} alert(s) in {self.inputs.shown}")
        return self.cases.open_cases(
            alerts, routing=self.inputs.routing, assignments=plan,
            first_contact_days=self.inputs.first_contact_days, time=at, staff="weekly-job",
            reasons=reasons, model_version=model_version)

    def finish(self, *, opened: Any, at: Any, window: float, people: pd.DataFrame | None,
               out: Path | None, outcomes: Any, horizon: float, outcome: Any) -> LoopResult:
        """Digests (sent once), the advisor's site and the loop report."""
        from studentprofile.warning import (
            NotificationLedger,
            build_digests,
            send_digests,
            write_advisor_site,
        )

        frame = self.cases.cases()
        digests = build_digests(frame, as_of=at, staff=_addresses(people), window=window,
                                card_url=self.inputs.card_url)
        sent, channel = None, None
        notifier = self.inputs.notifier
        if notifier is not None:
            channel = str(notifier.channel)
            self.say(f"sending {len(digests):,} digest(s)")
            with NotificationLedger(self.inputs.target) as ledger:
                sent = send_digests(digests, notifier, ledger, retries=self.inputs.retries)
        site = None
        files: dict[str, Path] = {}
        if out is not None:
            self.say(f"writing the advisors' site to {out}")
            site = write_advisor_site(frame, out, as_of=at, cards_dir=out, window=window)
            files["site"] = site.index
        report = loop_report(self.cases, as_of=at, outcomes=outcomes, horizon=horizon,
                             outcome=outcome)
        if out is not None:
            files.update(report.save(out))
        return LoopResult(store=self.inputs.shown, opened=opened, digests=digests,
                          sent=sent, site=site, report=report, channel=channel, files=files)
