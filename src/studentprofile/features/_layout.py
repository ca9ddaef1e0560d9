"""Lay events out once per call as per-student, per-kind contiguous blocks in time order.

The layout is a stable counting sort by student (``EventTables.student_codes()`` gives each
event's student position, so no identifier is hashed again), run in parallel over row chunks,
then, within each student, a stable counting sort by (family, kind). Each (student, kind) block
keeps the input order, so a chronological log (or one written kind by kind) needs no sorting; a
block is sorted into the canonical order (time, known_at, value with NaN last, max_value) only
when it is not in it already. An entry that reads one kind then sees a zero-copy view of its
blocks; an entry that reads several kinds gets them gathered and merged (a natural merge sort of
already sorted runs). The canonical order makes every result independent of the input row order,
bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from studentprofile.features import _kernels as K
from studentprofile.tables import EventTables

__all__ = ["EventLayout", "Source", "build_layout", "time_values"]

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
class Source:
    """The events one entry reads: student ``s`` owns ``starts[s]:ends[s]`` of the arrays."""

    starts: np.ndarray
    ends: np.ndarray
    t: np.ndarray
    k: np.ndarray
    v: np.ndarray
    mx: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events the source covers."""
        return int((self.ends - self.starts).sum())


@dataclass
class EventLayout:
    """Events grouped by student, then by (family, kind) pair, each block in canonical order.

    Student ``s``'s events of pair ``p`` are ``blocks[s, p]:blocks[s, p + 1]``; ``pairs[p]`` is the
    (family, kind) of compact pair code ``p``.
    """

    blocks: np.ndarray
    t: np.ndarray
    k: np.ndarray
    v: np.ndarray
    mx: np.ndarray  # empty when the events have no max_value
    pair: np.ndarray
    pairs: list[tuple[str, str]]
    n_sorted: int  # blocks that needed sorting

    @property
    def n_events(self) -> int:
        """Number of events laid out."""
        return int(self.t.shape[0])

    def source(self, *, family: str | None, kinds: Iterable[str] | None) -> Source:
        """Return the events of a family and/or kinds, per student in canonical order."""
        wanted = None if kinds is None else set(kinds)
        selected = np.array(
            [(family is None or f == family) and (wanted is None or x in wanted)
             for f, x in self.pairs],
            dtype=bool,
        )
        picked = np.flatnonzero(selected)
        n_students = self.blocks.shape[0]
        if len(picked) == 0:
            zero = np.zeros(n_students, np.int64)
            return Source(zero, zero, self.t[:0], self.k[:0], self.v[:0], self.mx[:0])
        if len(picked) == 1:  # one kind: a view of its blocks
            p = int(picked[0])
            return Source(np.ascontiguousarray(self.blocks[:, p]),
                          np.ascontiguousarray(self.blocks[:, p + 1]),
                          self.t, self.k, self.v, self.mx)
        if len(picked) == len(self.pairs):  # everything: each student's whole segment
            return self._merged_all()
        sizes = (self.blocks[:, 1:] - self.blocks[:, :-1])[:, selected].sum(axis=1)
        offsets = np.zeros(n_students + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        m = int(offsets[-1])
        t, k, v = np.empty(m, self.t.dtype), np.empty(m, self.k.dtype), np.empty(m)
        mx = np.empty(m if self.mx.shape[0] else 0)
        pair = np.empty(m, np.int32)
        gather = K.gather_blocks if m >= PARALLEL_MIN else K.gather_blocks_serial
        gather(self.blocks, selected, offsets, self.t, self.k, self.v, self.mx, self.pair,
               t, k, v, mx, pair)
        return Source(offsets[:-1].copy(), offsets[1:].copy(), t, k, v, mx)

    def _merged_all(self) -> Source:
        n_pp = len(self.pairs)
        if n_pp == 1:
            return Source(np.ascontiguousarray(self.blocks[:, 0]),
                          np.ascontiguousarray(self.blocks[:, 1]),
                          self.t, self.k, self.v, self.mx)
        selected = np.ones(n_pp, dtype=bool)
        offsets = np.append(self.blocks[:, 0], self.blocks[-1, -1]).astype(np.int64)
        m = self.n_events
        t, k, v = np.empty(m, self.t.dtype), np.empty(m, self.k.dtype), np.empty(m)
        mx = np.empty(m if self.mx.shape[0] else 0)
        pair = np.empty(m, np.int32)
        gather = K.gather_blocks if m >= PARALLEL_MIN else K.gather_blocks_serial
        gather(self.blocks, selected, offsets, self.t, self.k, self.v, self.mx, self.pair,
               t, k, v, mx, pair)
        return Source(offsets[:-1].copy(), offsets[1:].copy(), t, k, v, mx)


def _codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    cat = series.astype("category") if not isinstance(series.dtype, pd.CategoricalDtype) \
        else series
    codes = np.ascontiguousarray(cat.cat.codes.to_numpy())
    return codes, [str(c) for c in cat.cat.categories]


def build_layout(tables: EventTables, *, with_max_value: bool = False) -> EventLayout:
    """Lay the events of ``tables`` out by student and (family, kind), in canonical order.

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
        return EventLayout(blocks=np.zeros((n_students, 1), np.int64), t=t, k=k, v=v, mx=mx,
                           pair=np.empty(0, np.int32), pairs=[], n_sorted=0)
    nk = max(len(kinds), 1)
    parallel = n >= PARALLEL_MIN
    n_chunks = max(1, min(numba.get_num_threads() * 4, n // 65_536 + 1)) if parallel else 1
    counts = K.pair_counts(fam, kin, nk, max(len(families), 1) * nk, n_chunks)
    present = np.flatnonzero(counts)
    lut = np.full(len(counts), -1, np.int32)
    lut[present] = np.arange(len(present), dtype=np.int32)
    pairs = [(families[p // nk], kinds[p % nk]) for p in present.tolist()]
    codes = np.ascontiguousarray(tables.student_codes(), dtype=np.int64)
    if parallel:
        offsets, starts = K.counting_offsets(codes, n_students, n_chunks)
        t_out = np.empty_like(t)
        k_out = np.empty_like(k)
        v_out = np.empty_like(v)
        mx_out = np.empty_like(mx)
        pair = np.empty(n, np.int32)
        K.scatter_events(codes, starts, t, k, v, mx, fam, kin, nk, lut, t_out, k_out, v_out,
                         mx_out, pair)
    else:
        order = np.argsort(codes, kind="stable")
        offsets = np.zeros(n_students + 1, np.int64)
        np.cumsum(np.bincount(codes, minlength=n_students), out=offsets[1:])
        t_out, k_out, v_out = t[order], k[order], v[order]
        mx_out = mx[order] if len(mx) else mx
        pair = lut[(fam.astype(np.int64) * nk + kin.astype(np.int64))[order]]
    blocks = np.empty((n_students, len(pairs) + 1), np.int64)
    group = K.group_blocks if parallel else K.group_blocks_serial
    n_sorted = int(group(offsets, t_out, k_out, v_out, mx_out, pair, blocks))
    return EventLayout(blocks=blocks, t=t_out, k=k_out, v=v_out, mx=mx_out, pair=pair,
                       pairs=pairs, n_sorted=n_sorted)
