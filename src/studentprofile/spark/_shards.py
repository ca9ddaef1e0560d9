"""Shards of students: one Spark partition each, and the cores of one task.

Each row's shard is a hash of its ``student_id`` (``_pack.shards_of``), and its packed blob
carries a partition label. Repartitioning by the shard number itself would make Spark hash that
number a second time to pick a partition, and ``n`` numbers hashed into ``n`` partitions collide
(some partitions get two shards, others none: one core idles while the other works through
two). :func:`shard_labels` picks, for each partition, a label that Spark's hash partitioner
sends exactly there, so ``repartition(n, "label")`` puts one shard in each partition and the
per-shard function runs once per task.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["shard_labels", "spark_hash_long", "use_task_cores"]

_MASK = 0xFFFFFFFF
_SEED = 42  # the seed of Spark's Murmur3Hash (F.hash) and of its hash partitioner


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _mix_k1(k1: int) -> int:
    k1 = (k1 * 0xCC9E2D51) & _MASK
    return (_rotl(k1, 15) * 0x1B873593) & _MASK


def _mix_h1(h1: int, k1: int) -> int:
    h1 = _rotl(h1 ^ k1, 13)
    return (h1 * 5 + 0xE6546B64) & _MASK


def spark_hash_long(value: int) -> int:
    """Return Spark's ``hash()`` of a ``bigint`` (Murmur3 x86 32-bit, seed 42), as a signed int.

    Examples
    --------
    >>> spark_hash_long(0), spark_hash_long(1)  # SELECT hash(0L), hash(1L)
    (-1670924195, -1712319331)
    """
    v = value & 0xFFFFFFFFFFFFFFFF
    h1 = _mix_h1(_SEED, _mix_k1(v & _MASK))
    h1 = _mix_h1(h1, _mix_k1(v >> 32))
    h1 ^= 8
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


@lru_cache(maxsize=64)
def shard_labels(n: int) -> tuple[int, ...]:
    """Return ``n`` bigint labels; label ``i`` lands in partition ``i`` of ``repartition(n, ...)``.

    Spark's hash partitioner sends a row to ``pmod(hash(key), n)``; the labels are the smallest
    non-negative integers that reach each partition.

    Examples
    --------
    >>> labels = shard_labels(4)
    >>> [spark_hash_long(x) % 4 for x in labels]
    [0, 1, 2, 3]
    """
    found: dict[int, int] = {}
    x = 0
    while len(found) < n:
        found.setdefault(spark_hash_long(x) % n, x)
        x += 1
    return tuple(found[i] for i in range(n))


def use_task_cores() -> None:
    """Let numba's parallel kernels use the cores Spark gave this task (``spark.task.cpus``).

    Each Spark task already runs on its own core; numba's default (every core of the machine)
    in each of several concurrent tasks would oversubscribe the executor.
    """
    import numba
    from pyspark import TaskContext

    task = TaskContext.get()
    cores = task.cpus() if task is not None else 1
    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(int(cores), most)))
