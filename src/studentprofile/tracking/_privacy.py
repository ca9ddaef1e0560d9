"""Privacy: keyed pseudonyms for per-student artefacts and a scan for raw identifiers.

Raw student identifiers never reach MLflow by default. When per-student artefacts are asked for,
each identifier is replaced by ``HMAC-SHA256(key, id)`` (hex, first 16 characters): stable for
one key, so a campus system holding the key can link results back, and useless to anyone who
does not hold it (unlike a plain hash, which can be reversed by hashing every possible id).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from studentprofile.errors import ConfigError

__all__ = ["find_identifiers", "pseudonym_key", "pseudonymize", "scan_text"]

MIN_KEY_BYTES = 16
PSEUDONYM_CHARS = 16


def pseudonym_key(env: str = "STUDENTPROFILE_PSEUDONYM_KEY") -> bytes:
    """Read the pseudonym key from an environment variable.

    Parameters
    ----------
    env : str
        The variable's name.

    Returns
    -------
    bytes

    Raises
    ------
    ConfigError
        The variable is unset or holds fewer than 16 bytes.
    """
    value = os.environ.get(env)
    if not value:
        raise ConfigError(
            "per-student artefacts need a pseudonym key",
            key="tracking.pseudonym_key_env",
            arrived=f"environment variable {env} is not set",
            hint=f"set {env} to a secret of at least {MIN_KEY_BYTES} characters (e.g. the "
            "output of `python -c \"import secrets; print(secrets.token_hex(32))\"`), kept "
            "outside the repository; or set tracking.per_student = false",
        )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key must hold at least {MIN_KEY_BYTES} bytes",
            key="tracking.pseudonym_key_env",
            arrived=f"{len(key)} bytes in {env}",
            hint="use a longer random secret",
        )
    return key


def pseudonymize(ids: Iterable[Any], key: bytes | str) -> np.ndarray:
    """Replace identifiers by keyed pseudonyms (HMAC-SHA256, 16 hex characters).

    Parameters
    ----------
    ids : iterable
        Student identifiers (any type; compared by ``str(id)``).
    key : bytes or str
        The secret key (at least 16 bytes).

    Returns
    -------
    ndarray of str

    Raises
    ------
    ConfigError
        A key shorter than 16 bytes.

    Examples
    --------
    >>> p = pseudonymize(["ana", "ben", "ana"], key="a secret key of 32 characters!!!")
    >>> p[0] == p[2], p[0] != p[1], len(p[0])
    (True, True, 16)
    """
    k = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(k) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key must hold at least {MIN_KEY_BYTES} bytes",
            key="key",
            arrived=f"{len(k)} bytes",
            hint="use a longer random secret",
        )
    out = [
        hmac.new(k, str(i).encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]
        for i in ids
    ]
    return np.asarray(out, dtype=object)


_TOKEN = re.compile(r"[^\s,;\"'=\[\]{}()<>|`]+")


def scan_text(text: str, identifiers: set[str], *, min_length: int = 4) -> list[str]:
    """Return the identifiers that appear in ``text`` as whole tokens or inside a token.

    Tokens are runs of characters other than spaces, quotes, brackets and separators; an
    identifier is found when it equals a token, or a token split further on ``/``, ``:`` or
    ``.`` (so ``"students/AAA/2013J/1"`` finds ``"AAA/2013J/1"``), or is contained in one.
    Identifiers shorter than ``min_length`` characters are skipped (``"1"`` would match any
    number).

    Parameters
    ----------
    text : str
        Any text (a param value, a file's contents, log lines).
    identifiers : set of str
        The raw identifiers to look for.
    min_length : int, default 4
        Shortest identifier searched for.

    Returns
    -------
    list of str
        The identifiers found (sorted, each once).

    Examples
    --------
    >>> scan_text("risk for AAA/2013J/11391 is high", {"AAA/2013J/11391", "BBB/2014B/2"})
    ['AAA/2013J/11391']
    """
    ids = {i for i in identifiers if len(i) >= min_length}
    if not ids:
        return []
    found: set[str] = set()
    lengths = sorted({len(i) for i in ids})
    for tok in _TOKEN.findall(text):
        if tok in ids:
            found.add(tok)
            continue
        # identifiers inside a longer token: test every substring of an identifier's length
        if len(tok) > lengths[0]:
            for n in lengths:
                if n >= len(tok):
                    break
                for s in range(len(tok) - n + 1):
                    piece = tok[s:s + n]
                    if piece in ids:
                        found.add(piece)
    return sorted(found)


def find_identifiers(root: str | Path, identifiers: Iterable[Any]) -> dict[str, list[str]]:
    """Scan every file under ``root`` for raw identifiers (text, and binary files as bytes).

    Parameters
    ----------
    root : str or Path
        A folder (e.g. downloaded MLflow artefacts) or one file.
    identifiers : iterable
        Raw student identifiers.

    Returns
    -------
    dict
        File path (relative to ``root``) -> identifiers found in it; empty when clean.
    """
    ids = {str(i) for i in identifiers}
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    out: dict[str, list[str]] = {}
    for f in files:
        data = f.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if b"\x00" in data[:4096]:
            # binary (PNG, SQLite): look for the raw bytes of long-enough identifiers
            hits = sorted(i for i in ids if len(i) >= 4 and i.encode("utf-8") in data)
        else:
            hits = scan_text(text, ids)
        if hits:
            out[str(f.relative_to(root)) if f != root else f.name] = hits
    return out
