"""Small HTML pieces for reports and notebook displays: escaped cells, bounded tables.

The one place that turns values and frames into HTML. Every text is escaped (an id or a
feature name such as ``<script>`` reads as text), nothing refers to an external asset (inline
CSS only, no script), and :func:`table` can show only the first rows of a long frame with a
"... n more rows" line, so a notebook output stays small whatever the data.

:func:`display` wraps a result's summary line and parts into the compact block that the
``_repr_html_`` methods of the result classes return.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_COLS", "MAX_ROWS", "cell", "display", "heading", "kv_table", "note", "table"]

#: Rows a notebook display shows of a long table before "... n more rows".
MAX_ROWS = 10
#: Columns a notebook display shows of a wide table before "... n more columns".
MAX_COLS = 16

# Scoped to .sp-repr so that a notebook's own styles are not touched.
_CSS = (
    ".sp-repr{font:13px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}"
    ".sp-repr table{border-collapse:collapse;margin:4px 0 8px;font-size:12px}"
    ".sp-repr th,.sp-repr td{border:1px solid #ddd;padding:2px 6px;text-align:left;"
    "vertical-align:top}"
    ".sp-repr th{background:#f4f4f4}.sp-repr td.n{text-align:right;white-space:nowrap}"
    ".sp-repr .more{color:#666;font-style:italic;text-align:left}"
    ".sp-repr .note{color:#555;margin:2px 0}"
    ".sp-repr .fail{color:#b00020;font-weight:600}.sp-repr .pass{color:#1b7a1b}"
    ".sp-repr h4{margin:8px 0 2px;font-size:13px}"
)


def cell(value: Any, verdict: bool = False) -> str:
    """Render one table cell's content as escaped HTML.

    Parameters
    ----------
    value : object
        The value. Floats read with three decimals (``1.2e-05`` when tiny, ``∞``), integers
        with thousands separators, missing values as ``–``, dates as ``YYYY-MM-DD``, anything
        else as its escaped text.
    verdict : bool, default False
        Render a boolean as a parity verdict (``pass``/``FAIL``) rather than ``yes``/``no``.

    Returns
    -------
    str

    Examples
    --------
    >>> cell(0.12345), cell(12345), cell(float("nan")), cell("<b>")
    ('0.123', '12,345', '–', '&lt;b&gt;')
    >>> cell(True), cell(False, verdict=True)
    ('yes', '<span class="fail">FAIL</span>')
    """
    if isinstance(value, bool | np.bool_):
        if verdict:
            return '<span class="pass">pass</span>' if value else '<span class="fail">FAIL</span>'
        return "yes" if value else "no"
    if value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value)
    ):
        return "–"
    if isinstance(value, float | np.floating):
        v = float(value)
        if np.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v != 0 and abs(v) < 0.001:
            return f"{v:.1e}"
        return f"{v:,.3f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    return html.escape(str(value))


def _named_index(frame: pd.DataFrame) -> bool:
    return any(n is not None for n in frame.index.names) or not isinstance(
        frame.index, pd.RangeIndex
    )


def _is_number(value: Any) -> bool:
    """Say whether a cell holds a number (right-aligned), not a flag or a missing value."""
    if isinstance(value, bool | np.bool_) or value is None or value is pd.NA:
        return False
    return isinstance(value, int | float | np.integer | np.floating) and not (
        isinstance(value, float | np.floating) and np.isnan(value)
    )


def _more(n: int, what: str) -> str:
    return f"... {n:,} more {what}{'' if n == 1 else 's'}"


def table(
    frame: pd.DataFrame,
    index: bool = True,
    verdicts: Sequence[str] = (),
    *,
    max_rows: int | None = None,
    max_cols: int | None = None,
) -> str:
    """Render a DataFrame as an HTML table: escaped text, 3-decimal floats, bounded size.

    Parameters
    ----------
    frame : DataFrame
        The table. A named or non-default index is shown as leading columns.
    index : bool, default True
        Show a meaningful index (a default ``RangeIndex`` is never shown).
    verdicts : sequence of str, default ()
        Boolean columns that are parity verdicts (``pass``/``FAIL``); other booleans read
        ``yes``/``no``.
    max_rows : int, optional
        Show at most this many rows, then one "... n more rows" line. All rows by default
        (the saved report shows everything; notebook displays pass :data:`MAX_ROWS`).
    max_cols : int, optional
        Show at most this many columns, then a "... n more columns" header cell.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> t = table(pd.DataFrame({"student_id": ["<s1>", "s2", "s3"]}), max_rows=2)
    >>> "&lt;s1&gt;" in t, "<s1>" in t, "... 1 more row" in t, "s3" in t
    (True, False, True, False)
    """
    f = frame.reset_index() if index and _named_index(frame) else frame
    hidden_cols = 0
    if max_cols is not None and f.shape[1] > max_cols:
        hidden_cols = f.shape[1] - max_cols
        f = f.iloc[:, :max_cols]
    hidden_rows = 0
    if max_rows is not None and len(f) > max_rows:
        hidden_rows = len(f) - max_rows
        f = f.iloc[:max_rows]
    names = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in f.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in names)
    if hidden_cols:
        head += f'<th class="more">{_more(hidden_cols, "column")}</th>'
    is_verdict = [c in verdicts for c in f.columns]
    body = []
    for row in f.itertuples(index=False, name=None):
        cells = (
            f'<td class="n">{cell(v)}</td>' if _is_number(v) else f"<td>{cell(v, flag)}</td>"
            for v, flag in zip(row, is_verdict, strict=True)
        )
        body.append("<tr>" + "".join(cells) + ("<td></td>" if hidden_cols else "") + "</tr>")
    if hidden_rows:
        span = len(names) + (1 if hidden_cols else 0)
        body.append(f'<tr><td class="more" colspan="{span}">{_more(hidden_rows, "row")}'
                    "</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kv_table(mapping: Mapping[str, Any], *, key: str = "metric", value: str = "value") -> str:
    """Render a mapping as a two-column table (escaped keys and values).

    Examples
    --------
    >>> kv_table({"auc": 0.75}).split("<tbody>")[1]
    '<tr><td>auc</td><td class="n">0.750</td></tr></tbody></table>'
    """
    frame = pd.DataFrame({key: list(mapping), value: pd.Series(list(mapping.values()),
                                                                dtype=object)})
    return table(frame, index=False)


def note(text: str) -> str:
    """Return an escaped note paragraph.

    Examples
    --------
    >>> note("a < b")
    '<p class="note">a &lt; b</p>'
    """
    return f'<p class="note">{html.escape(text)}</p>'


def display(title: str, parts: Iterable[str]) -> str:
    """Wrap a summary line and HTML parts into one compact notebook display.

    Parameters
    ----------
    title : str
        Plain text (escaped here), usually the object's ``repr``.
    parts : iterable of str
        HTML pieces made with :func:`table`, :func:`kv_table`, :func:`note` or headings whose
        text the caller escaped.

    Returns
    -------
    str
        A ``<div class="sp-repr">`` with its own scoped ``<style>``; no script, no external
        asset.

    Examples
    --------
    >>> out = display("Thing(<x>)", [note("ok")])
    >>> out.startswith('<div class="sp-repr">'), "Thing(&lt;x&gt;)" in out
    (True, True)
    """
    body = "".join(p for p in parts if p)
    return (f'<div class="sp-repr"><style>{_CSS}</style>'
            f"<strong>{html.escape(title)}</strong>{body}</div>")


def heading(text: str) -> str:
    """Return an escaped small heading.

    Examples
    --------
    >>> heading("By family & kind")
    '<h4>By family &amp; kind</h4>'
    """
    return f"<h4>{html.escape(text)}</h4>"
