"""Early-warning operations: profiles, cards, alert policy, caseloads, ABC rules, alert log, drift.

- profiles: :func:`build_profiles` (dimension indices as cohort percentiles, with change),
  :class:`ProfileSpec`, :class:`Dimension`, :class:`DimensionTerm`, :class:`ProfileTypes`
  (k-means segments with plain-language names and a stability measure);
- cards: :func:`profile_card` (a JSON-ready :class:`ProfileCard` dict), :func:`render_card_html` and
  :func:`card_file_stem` (one distinct, safe file name per student);
- alerting: :class:`AlertPolicy` (tiers, hysteresis, cool-down) and :func:`assign_caseloads`
  (capacity- and programme-aware assignment of the highest-risk students);
- the rule baseline: :class:`ABCRules`, :class:`ABCIndicator`, :func:`abc_flags`, and
  :func:`abc_baseline` (the ABC rules as a candidate for ``evaluation.compare``);
- the closed loop: :class:`AlertLog` (append-only SQLite, lifecycle raised -> acknowledged ->
  action -> resolved); :class:`CaseStore` (cases from alerts on SQLite or PostgreSQL, owners,
  assignees, statuses, notes, due dates and staff verdicts, event-sourced and append-only),
  :func:`open_cases` and :class:`Routing` (reason families/kinds -> staff roles);
- drift: :class:`DriftMonitor`, :func:`psi`, :func:`ks_2sample`;
- out to people: :func:`build_digests` (one :class:`Digest` per advisor: their new and overdue
  cases), :func:`send_digests` through a :class:`Notifier` (:class:`SmtpNotifier`,
  :class:`WebhookNotifier`; allow-listed hosts) with retries, at most once per key, recorded in
  a :class:`NotificationLedger` (append-only, SQLite or PostgreSQL); the advisor's weekly
  page: :func:`write_advisor_site` (a static site, one page per advisor, linking the cards).

See ``docs/early-warning.md``.
"""

from studentprofile.warning._abc import ABCIndicator, ABCRules, abc_flags
from studentprofile.warning._alert_log import STATUSES, AlertLog, RecordResult
from studentprofile.warning._baseline import ABC_DEFAULTS, abc_baseline
from studentprofile.warning._cards import (
    CARD_VERSION,
    ProfileCard,
    card_file_stem,
    profile_card,
    render_card_html,
)
from studentprofile.warning._caseload import assign_caseloads
from studentprofile.warning._cases import (
    CASE_COLUMNS,
    CASE_STATUSES,
    HISTORY_COLUMNS,
    TRANSITIONS,
    VERDICT_COLUMNS,
    VERDICTS,
    CaseStore,
    OpenResult,
    open_cases,
)
from studentprofile.warning._drift import DriftMonitor, ks_2sample, psi
from studentprofile.warning._ledger import NotificationLedger
from studentprofile.warning._notifiers import (
    SIGNATURE_HEADER,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
    sign_body,
)
from studentprofile.warning._notify import (
    DIGEST_SCHEMA,
    Digest,
    SendReport,
    advisor_hash,
    build_digests,
    send_digests,
)
from studentprofile.warning._policy import AlertPolicy
from studentprofile.warning._profiles import (
    EDUCATION_DIMENSIONS,
    Dimension,
    DimensionTerm,
    Profiles,
    ProfileSpec,
    ProfileTypes,
    build_profiles,
)
from studentprofile.warning._reasons import reasons_lookup
from studentprofile.warning._routing import REASON_FAMILIES, Routing
from studentprofile.warning._site import AdvisorSite, write_advisor_site

__all__ = [
    "ABC_DEFAULTS",
    "ABCIndicator",
    "ABCRules",
    "AdvisorSite",
    "AlertLog",
    "AlertPolicy",
    "CARD_VERSION",
    "CASE_COLUMNS",
    "CASE_STATUSES",
    "CaseStore",
    "DIGEST_SCHEMA",
    "Digest",
    "Dimension",
    "DimensionTerm",
    "DriftMonitor",
    "EDUCATION_DIMENSIONS",
    "HISTORY_COLUMNS",
    "NotificationLedger",
    "Notifier",
    "OpenResult",
    "ProfileCard",
    "ProfileSpec",
    "ProfileTypes",
    "Profiles",
    "REASON_FAMILIES",
    "RecordResult",
    "Routing",
    "SIGNATURE_HEADER",
    "STATUSES",
    "SendReport",
    "SmtpNotifier",
    "TRANSITIONS",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "WebhookNotifier",
    "abc_flags",
    "abc_baseline",
    "advisor_hash",
    "assign_caseloads",
    "build_digests",
    "build_profiles",
    "card_file_stem",
    "ks_2sample",
    "open_cases",
    "profile_card",
    "psi",
    "reasons_lookup",
    "render_card_html",
    "send_digests",
    "sign_body",
    "write_advisor_site",
]
