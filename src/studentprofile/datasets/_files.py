"""Bundled data files: deterministic gzip, SHA-256 verification, parsing once per process.

The bundled datasets live in ``studentprofile/datasets/data/<dataset>/`` as gzip files written
with ``mtime=0`` and no file name (so the bytes never change when they are rebuilt), next to a
``SHA256SUMS`` of the compressed files. Every read verifies the hash of the bytes it is about to
parse; a missing, unlisted or altered file raises :class:`~studentprofile.errors.DataIntegrityError`
naming the file. Nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from importlib import resources
from importlib.abc import Traversable

from studentprofile.errors import DataIntegrityError

__all__ = ["data_dir", "gzip_deterministic", "read_verified", "read_text"]

_PACKAGE = "studentprofile.datasets"


def data_dir(dataset: str) -> Traversable:
    """Return the folder that holds one bundled dataset (inside the installed package)."""
    return resources.files(_PACKAGE).joinpath("data", dataset)


def gzip_deterministic(raw: bytes) -> bytes:
    r"""Compress ``raw`` as gzip with no file name and ``mtime=0`` (same input, same bytes).

    Parameters
    ----------
    raw : bytes
        The uncompressed content.

    Returns
    -------
    bytes
        A gzip member: level 9, header mtime 0, no file name, OS byte 255 ("unknown").

    Examples
    --------
    >>> gzip_deterministic(b"a,b\n1,2\n") == gzip_deterministic(b"a,b\n1,2\n")
    True
    >>> gzip_deterministic(b"x")[4:8]  # the header's modification time
    b'\x00\x00\x00\x00'
    """
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return buf.getvalue()


def _sums(dataset: str) -> dict[str, str]:
    folder = data_dir(dataset)
    entry = folder.joinpath("SHA256SUMS")
    try:
        text = entry.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise DataIntegrityError(
            f"the bundled dataset {dataset!r} has no SHA256SUMS file",
            arrived=f"nothing at {entry}",
            hint="reinstall studentprofile; the package data is incomplete",
        ) from exc
    sums: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            sums[name.strip()] = digest.strip().lower()
    return sums


def read_verified(dataset: str, name: str) -> bytes:
    r"""Read one bundled file and check it against the dataset's ``SHA256SUMS``.

    Parameters
    ----------
    dataset : str
        Folder under ``data/`` (``"oulad"`` or ``"uci_dropout"``).
    name : str
        File name, e.g. ``"studentInfo.csv.gz"``.

    Returns
    -------
    bytes
        The file's bytes (still compressed).

    Raises
    ------
    DataIntegrityError
        The file is missing, not listed in ``SHA256SUMS``, or its SHA-256 differs.

    Examples
    --------
    >>> raw = read_verified("oulad", "courses.csv.gz")
    >>> raw[:2]  # gzip magic bytes
    b'\x1f\x8b'
    """
    sums = _sums(dataset)
    expected = sums.get(name)
    if expected is None:
        raise DataIntegrityError(
            f"the bundled file {dataset}/{name} is not listed in SHA256SUMS",
            arrived=f"listed files {sorted(sums)!r}",
            hint="only files recorded in SHA256SUMS are read; reinstall studentprofile",
        )
    entry = data_dir(dataset).joinpath(name)
    try:
        raw = entry.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise DataIntegrityError(
            f"the bundled file {dataset}/{name} is missing",
            arrived=f"nothing at {entry}",
            hint="reinstall studentprofile; the package data is incomplete",
        ) from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataIntegrityError(
            f"the bundled file {dataset}/{name} does not match its recorded SHA-256",
            arrived=f"sha256 {actual} ({len(raw):,} bytes); SHA256SUMS records {expected}",
            hint="the file was altered or truncated; reinstall studentprofile (never edit "
            "bundled data in place)",
        )
    return raw


def read_text(dataset: str, name: str) -> str:
    """Read a bundled gzip file, verify it and return its text (UTF-8, BOM removed)."""
    raw = read_verified(dataset, name)
    try:
        return gzip.decompress(raw).decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # pragma: no cover - hash checked
        raise DataIntegrityError(
            f"the bundled file {dataset}/{name} cannot be decompressed",
            arrived=f"{type(exc).__name__}: {exc}",
            hint="reinstall studentprofile",
        ) from exc
