"""Privacy: keyed pseudonyms for per-student artefacts and a scan for raw identifiers.

Raw student identifiers never reach MLflow by default. When per-student artefacts are asked for,
each identifier is replaced by ``HMAC-SHA256(key, id)`` (hex, first 16 characters): stable for
one key, so a campus system holding the key can link results back, and useless to anyone who
does not hold it (unlike a plain hash, which can be reversed by hashing every possible id).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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


_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits (any script)
_JSON_ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])')
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                "t": "\t"}


def _json_unescape(text: str) -> str:
    r"""Decode JSON string escapes (``\u00eb``, surrogate pairs, ``\"``, ``\/``) in any text."""

    def one(m: re.Match[str]) -> str:
        return chr(int(m.group(1), 16)) if m.group(1) else _JSON_SIMPLE[m.group(2)]

    out = _JSON_ESCAPE.sub(one, text)
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _csv_unquote(text: str) -> str:
    return text.replace('""', '"')


def _decoded(text: str) -> str:
    """Return the text as a reader sees it: JSON, HTML, URL and CSV escapes decoded.

    Escapes nest (JSON inside an HTML page, HTML inside JSON), so JSON and HTML are decoded
    twice each way.
    """
    out = text
    for _ in range(2):
        if "\\" in out:
            out = _json_unescape(out)
        if "&" in out:
            out = html.unescape(out)
    if "%" in out:
        out = unquote(out)
    if '""' in out:  # CSV doubles the quotes inside a quoted cell
        out = _csv_unquote(out)
    return out


def _views(text: str) -> list[str]:
    """Return the text as written and as decoded (:func:`_decoded`), each once."""
    decoded = _decoded(text)
    return [text] if decoded == text else [text, decoded]


def _word_starts(view: str, word: str) -> list[int]:
    """Return where ``word`` stands as a whole word (no letter or digit either side)."""
    out, n, i = [], len(word), view.find(word)
    while i >= 0:
        before = view[i - 1] if i else " "
        after = view[i + n] if i + n < len(view) else " "
        if not (before.isalnum() or after.isalnum()):
            out.append(i)
        i = view.find(word, i + 1)
    return out


def _is_number_part(text: str, i: int, step: int) -> bool:
    """Return True when the ``.`` at ``i`` joins digits (``1.5``).

    Not ``,``: CSV puts a comma between an id and the next number.
    """
    j = i + step
    return text[i] == "." and 0 <= j < len(text) and text[j].isdigit()


def _float_form(text: str, e: int) -> bool:
    """Return True when ``text[e:]`` is ``.0``, ``.00``, ... ending a number (``1234.0``)."""
    m = re.match(r"\.0+(?![0-9])", text[e:e + 24])
    return m is not None


def _whole(text: str, ident: str, p: int) -> bool:
    """Return True when ``ident`` at ``text[p]`` is whole (not in a longer id, word, number)."""
    e = p + len(ident)
    if ident[0].isalnum() and p > 0:
        before = text[p - 1]
        if before.isalnum() or (ident[0].isdigit() and _is_number_part(text, p - 1, -1)):
            return False
    if ident[-1].isalnum() and e < len(text):
        after = text[e]
        if after.isalnum():
            return False
        if ident[-1].isdigit() and _is_number_part(text, e, 1) and not _float_form(text, e):
            return False
    return True


@functools.lru_cache(maxsize=4)
def _anchor_index(
    identifiers: frozenset[str], min_length: int
) -> tuple[dict[str, dict[tuple[int, int], set[str]]], list[str]]:
    """Index the ids to look for by their anchor, once per set of ids (not once per text).

    Each id is looked up by its longest run of letters/digits (its anchor, the most selective
    part: "11391" of "AAA/2013J/11391"), so the cost of a scan grows with the text, not the ids;
    ids sharing an anchor are grouped by (offset of the anchor, length): one set lookup per
    group and occurrence. A run logs hundreds of params, tags and metrics, each scanned on its
    own: rebuilding this for 30,000 ids took 0.1 s a call.
    """
    anchors: dict[str, dict[tuple[int, int], set[str]]] = {}
    plain: list[str] = []  # ids without a letter or digit: searched as they are
    for ident in identifiers:
        if len(ident) < min_length:
            continue
        words = list(_WORD.finditer(ident))
        if not words:
            plain.append(ident)
            continue
        best = max(reversed(words), key=lambda m: len(m.group()))
        group = anchors.setdefault(best.group(), {})
        group.setdefault((best.start(), len(ident)), set()).add(ident)
    return anchors, plain


def scan_text(text: str, identifiers: set[str], *, min_length: int = 4) -> list[str]:
    r"""Return the identifiers that appear whole in ``text``, escaped or not.

    The text is searched as written and decoded the ways files write text: JSON escapes
    (``Zo\u00eb``), HTML entities (``O&#x27;Brien``, ``&amp;``), URL escapes (``%20``) and
    CSV's doubled quotes. An identifier is found where it appears whole: not preceded or
    followed by a letter or digit, and not the digits of a longer number (``1234`` is not in
    ``12345`` nor in ``0.1234``; it is in ``1234.0``, the float form of the id). Spaces,
    quotes, commas and ``&`` inside an identifier are matched as they are. Identifiers shorter
    than ``min_length`` characters are skipped (``"1"`` would match any number).

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
    >>> scan_text('{"id": "Zo\\u00eb M\\u00fcller"}, 123456', {"Zoë Müller", "2345"})
    ['Zoë Müller']
    """
    anchors, plain = _anchor_index(frozenset(identifiers), min_length)
    if not anchors and not plain:
        return []
    found: set[str] = set()
    for view in _views(text):
        hit = set(_WORD.findall(view)).intersection(anchors)
        if len(hit) <= 64:
            starts = ((w, i) for w in hit for i in _word_starts(view, w))
        else:
            starts = ((m.group(), m.start()) for m in _WORD.finditer(view) if m.group() in hit)
        for word, start in starts:
            for (offset, length), idents in anchors[word].items():
                p = start - offset
                piece = view[p:p + length] if p >= 0 else ""
                if piece in idents and piece not in found and _whole(view, piece, p):
                    found.add(piece)
        found.update(i for i in plain if i in view)
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
