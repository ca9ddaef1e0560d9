"""Lay events out once per call as per-student contiguous arrays in canonical time order.

The layout is a stable counting sort by student (``EventTables.student_codes()`` gives each
event's student position, so no identifier is hashed again), run in parallel over row chunks;
then each student's events are checked and, only where needed, sorted into the canonical order
(time, known_at, value with NaN last, max_value, family/kind). The canonical order makes every
result independent of the input row order, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from studentprofile.features import _kernels as K
from studentprofile.tables import EventTables

__all__ = ["EventLayout", "build_layout", "pair_mask", "time_values"]

NS_PER_DAY = 86_400 * 10**9

#: Below this much work (events + queries), kernels run on one thread: a parallel launch costs
#: about a millisecond, more than the work itself.
PARALLEL_MIN = 100_000


def time_values(values: pd.Series | np.ndarray | pd.Index, kind: str) -> np.ndarray:
    """Canonical times as the kernels' integer nanoseconds (datetimes) or float days."""
    if kind == "datetime":
        return np.ascontiguousarray(np.asarray(values, dtype="datetime64[ns]").view(np.int64))
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64))


@dataclass
class EventLayout:
    """Events grouped by student: student ``s`` owns ``offsets[s]:offsets[s + 1]``."""

    offsets: np.ndarray
    t: np.ndarray
    k: np.ndarray
    v: np.ndarray
    mx: np.ndarray  # empty when the events have no max_value
    pair: np.ndarray  # family code * n_kinds + kind code
    families: list[str]
    kinds: list[str]
    n_sorted: int  # students whose events needed sorting

    @property
    def n_events(self) -> int:
        """Number of events laid out."""
        return int(self.t.shape[0])

    def select(self, selected: np.ndarray) -> EventLayout:
        """Return the events whose (family, kind) code is selected, in the same order."""
        if selected.all():
            return self
        parallel = self.n_events >= PARALLEL_MIN
        count = K.select_count if parallel else K.select_count_serial
        copy = K.select_copy if parallel else K.select_copy_serial
        counts = count(self.offsets, self.pair, selected)
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        m = int(offsets[-1])

        def pick(src: np.ndarray) -> np.ndarray:
            dst = np.empty(m, src.dtype)
            copy(self.offsets, offsets, self.pair, selected, src, dst)
            return dst

        return EventLayout(
            offsets=offsets,
            t=pick(self.t),
            k=pick(self.k),
            v=pick(self.v),
            mx=pick(self.mx) if self.mx.shape[0] else self.mx,
            pair=pick(self.pair),
            families=self.families,
            kinds=self.kinds,
            n_sorted=self.n_sorted,
        )


def _codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    cat = series.astype("category") if not isinstance(series.dtype, pd.CategoricalDtype) \
        else series
    codes = np.ascontiguousarray(cat.cat.codes.to_numpy())
    return codes, [str(c) for c in cat.cat.categories]


def build_layout(tables: EventTables, *, with_max_value: bool = False) -> EventLayout:
    """Lay the events of ``tables`` out by student in canonical order.

    Parameters
    ----------
    tables : EventTables
        Validated tables.
    with_max_value : bool, default False
        Carry the ``max_value`` column along (needed by the ``share`` aggregate).

    Returns
    -------
    EventLayout
    """
    ev = tables.events
    n_students = len(tables.students)
    kind = tables.time_kind
    t = time_values(ev["time"], kind)
    k = time_values(ev["known_at"], kind)
    v = np.ascontiguousarray(ev["value"].to_numpy(dtype=np.float64))
    fam, families = _codes(ev["family"])
    kin, kinds = _codes(ev["kind"])
    has_mx = with_max_value and "max_value" in ev.columns
    mx = (
        np.ascontiguousarray(ev["max_value"].to_numpy(dtype=np.float64))
        if has_mx
        else np.empty(0, np.float64)
    )
    n = len(t)
    if n == 0:
        return EventLayout(
            offsets=np.zeros(n_students + 1, np.int64),
            t=t, k=k, v=v, mx=mx,
            pair=np.empty(0, np.int32),
            families=families, kinds=kinds, n_sorted=0,
        )
    codes = np.ascontiguousarray(tables.student_codes(), dtype=np.int64)
    if n >= PARALLEL_MIN:
        n_chunks = max(1, min(numba.get_num_threads() * 4, n // 65_536 + 1))
        offsets, starts = K.counting_offsets(codes, n_students, n_chunks)
        t_out = np.empty_like(t)
        k_out = np.empty_like(k)
        v_out = np.empty_like(v)
        mx_out = np.empty_like(mx)
        pair = np.empty(n, np.int32)
        K.scatter_events(codes, starts, t, k, v, mx, fam, kin, max(len(kinds), 1), t_out, k_out,
                         v_out, mx_out, pair)
        n_sorted = int(K.sort_within_students(offsets, t_out, k_out, v_out, mx_out, pair))
    else:
        order = np.argsort(codes, kind="stable")
        offsets = np.zeros(n_students + 1, np.int64)
        np.cumsum(np.bincount(codes, minlength=n_students), out=offsets[1:])
        t_out, k_out, v_out = t[order], k[order], v[order]
        mx_out = mx[order] if len(mx) else mx
        pair = (fam.astype(np.int32) * max(len(kinds), 1) + kin.astype(np.int32))[order]
        n_sorted = int(K.sort_within_students_serial(offsets, t_out, k_out, v_out, mx_out, pair))
    return EventLayout(
        offsets=offsets, t=t_out, k=k_out, v=v_out, mx=mx_out, pair=pair,
        families=families, kinds=kinds, n_sorted=n_sorted,
    )


def pair_mask(
    families: list[str],
    kinds: list[str],
    *,
    family: str | None,
    wanted_kinds: Iterable[str] | None,
) -> np.ndarray:
    """Boolean lookup over (family, kind) codes: which pairs an entry selects."""
    nk = max(len(kinds), 1)
    mask = np.zeros(max(len(families), 1) * nk, dtype=bool)
    fam_ok = np.array([family is None or f == family for f in families], dtype=bool)
    wanted = None if wanted_kinds is None else set(wanted_kinds)
    kind_ok = np.array([wanted is None or x in wanted for x in kinds], dtype=bool)
    for fi in np.flatnonzero(fam_ok):
        mask[fi * nk: fi * nk + len(kinds)] = kind_ok
    return mask
