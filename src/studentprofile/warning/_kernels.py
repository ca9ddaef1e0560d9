"""Numba kernels of the warning layer: the ABC rule baseline and the alert state machine.

Bare loops over typed, preallocated arrays. They never validate and never raise; the public
wrappers in ``_abc.py`` and ``_policy.py`` shape the inputs. Each kernel has a slow, obvious
reference in ``tests/test_warning_kernels.py`` that Hypothesis compares it with, NaN and inf
included.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# comparison codes shared with _abc.py: a value is "off track" when ``value <op> threshold``
OP_LT = 0
OP_LE = 1
OP_GT = 2
OP_GE = 3


@njit(cache=True, nogil=True, parallel=True)
def abc_kernel(
    values: np.ndarray,
    thresholds: np.ndarray,
    ops: np.ndarray,
    scales: np.ndarray,
    missing_flags: np.ndarray,
    flags_out: np.ndarray,
    count_out: np.ndarray,
    score_out: np.ndarray,
) -> None:
    """Off-track flags, their count and a ranking score for each row.

    ``values`` is (n, k) float64, one column per indicator. Indicator ``j`` is off track when
    ``values[i, j] <ops[j]> thresholds[j]``; a NaN value is off track when ``missing_flags[j]``.
    Its severity is the distance past the threshold divided by ``scales[j]``, clipped to [0, 1]
    (0 for a flagged missing value). ``score = count + sum(severity) / (k + 1)``, so rows order
    by the number of flags first and by how far past the thresholds they are second.
    """
    n, k = values.shape
    for i in prange(n):
        count = 0
        severity = 0.0
        for j in range(k):
            v = values[i, j]
            flag = False
            sev = 0.0
            if np.isnan(v):
                flag = missing_flags[j] != 0
            else:
                op = ops[j]
                t = thresholds[j]
                if op == OP_LT:
                    flag = v < t
                    d = t - v
                elif op == OP_LE:
                    flag = v <= t
                    d = t - v
                elif op == OP_GT:
                    flag = v > t
                    d = v - t
                else:
                    flag = v >= t
                    d = v - t
                if flag:
                    sev = d / scales[j]
                    if sev > 1.0:
                        sev = 1.0
                    elif sev < 0.0:
                        sev = 0.0
            if flag:
                flags_out[i, j] = 1
                count += 1
                severity += sev
            else:
                flags_out[i, j] = 0
        count_out[i] = count
        score_out[i] = count + severity / (k + 1)


@njit(cache=True, nogil=True, parallel=True)
def alert_state_kernel(
    raw_level: np.ndarray,
    days: np.ndarray,
    offsets: np.ndarray,
    n_levels: int,
    enter_after: int,
    exit_after: int,
    cooldown: float,
    alert_from: int,
    escalation_bypass: bool,
    level_out: np.ndarray,
    alert_out: np.ndarray,
) -> None:
    """Hysteresis tiers and alerts with cool-down, one student (a slice of rows) at a time.

    Rows of student ``s`` are ``offsets[s]:offsets[s + 1]``, in time order (``days``).
    ``raw_level[r]`` is the tier the score reaches on its own (0 = none, 1 = lowest tier, ...).

    Tiers nest (a row at level 3 is also at levels 1 and 2), and each level ``k`` has its own
    switch: it turns on after ``enter_after`` consecutive rows with ``raw_level >= k`` and off
    after ``exit_after`` consecutive rows below ``k``. The smoothed level is the highest level
    whose switch is on (the switches stay nested, see docs/early-warning.md).

    An alert is raised at a row when the smoothed level is at least ``alert_from`` and higher
    than the level the student was last alerted at in the current episode (an episode ends when
    the level falls below ``alert_from``; a fall inside the episode lowers the alerted level to
    the new level), unless the previous alert is less than ``cooldown`` days old. An escalation
    above the previous alert's level skips the cool-down when ``escalation_bypass``. An alert
    held back by the cool-down is raised at the first later row where it is allowed, if the
    conditions still hold.
    """
    n_students = offsets.shape[0] - 1
    for s in prange(n_students):
        on = np.zeros(n_levels + 1, dtype=np.bool_)
        above = np.zeros(n_levels + 1, dtype=np.int64)
        below = np.zeros(n_levels + 1, dtype=np.int64)
        alerted_level = 0
        last_alert_day = 0.0
        last_alert_level = 0
        has_alert = False
        for r in range(offsets[s], offsets[s + 1]):
            raw = raw_level[r]
            level = 0
            for k in range(1, n_levels + 1):
                if raw >= k:
                    above[k] += 1
                    below[k] = 0
                else:
                    below[k] += 1
                    above[k] = 0
                if not on[k] and above[k] >= enter_after:
                    on[k] = True
                elif on[k] and below[k] >= exit_after:
                    on[k] = False
                if on[k]:
                    level = k
            level_out[r] = level
            if level < alert_from:
                alerted_level = 0
            elif level < alerted_level:
                alerted_level = level
            raise_it = False
            if level >= alert_from and level > alerted_level:
                if not has_alert:
                    raise_it = True
                elif days[r] - last_alert_day >= cooldown:
                    raise_it = True
                elif escalation_bypass and level > last_alert_level:
                    raise_it = True
            if raise_it:
                alert_out[r] = 1
                alerted_level = level
                last_alert_day = days[r]
                last_alert_level = level
                has_alert = True
            else:
                alert_out[r] = 0
