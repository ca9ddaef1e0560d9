"""Reading TOML with line numbers: where in a file a dotted key was written.

``tomllib`` gives values but no positions. An error about ``model.learning_rate`` is far more
useful as ``experiment.toml:14 model.learning_rate: ...``, so this module scans the text once
and maps each dotted key (array-of-tables entries as ``features.add[1].kinds``) to the line it
was set on. Inline tables (``columns = { id = "student" }``) map their inner keys to the line of
the outer key.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from studentprofile.errors import ConfigError

#: Deepest nesting of tables and arrays a config may have (the real ones need 4).
MAX_DEPTH = 32

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+"
                     r"|\"[^\"]*\"|'[^']*'))*)\s*=")


def _split_key(raw: str) -> list[str]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+)", raw)
    return [a or b or c for a, b, c in parts]


def key_lines(text: str) -> dict[str, int]:
    r"""Map every dotted key set in ``text`` to its 1-based line number.

    Parameters
    ----------
    text : str
        The TOML document.

    Returns
    -------
    dict of str -> int
        Table headers map too (``"model"`` -> the line of ``[model]``).

    Examples
    --------
    >>> text = 'seed = 1\n[model]\nlearning_rate = 0.1\n[[features.add]]\nkinds = []'
    >>> lines = key_lines(text)
    >>> lines["seed"], lines["model"], lines["model.learning_rate"], lines["features.add[0].kinds"]
    (1, 2, 3, 5)
    """
    out: dict[str, int] = {}
    table: list[str] = []
    counts: dict[str, int] = {}
    in_multiline = False
    for no, line in enumerate(text.splitlines(), start=1):
        # skip the insides of multi-line strings (""" or ''')
        n_triple = line.count('"""') + line.count("'''")
        if in_multiline:
            if n_triple % 2 == 1:
                in_multiline = False
            continue
        m = _HEADER.match(line)
        if m and not _ASSIGN.match(line):
            path = _split_key(m.group(2))
            name = ".".join(path)
            if m.group(1) == "[[":
                i = counts.get(name, 0)
                counts[name] = i + 1
                table = [*path[:-1], f"{path[-1]}[{i}]"]
                out.setdefault(name, no)
            else:
                # a sub-table of the latest array entry: [[a]] then [a.b]
                table = list(path)
                for arr, n in counts.items():
                    if name.startswith(arr + "."):
                        table = [f"{arr}[{n - 1}]", *name[len(arr) + 1:].split(".")]
            out.setdefault(".".join(table), no)
            continue
        m = _ASSIGN.match(line)
        if m:
            key = ".".join([*table, *_split_key(m.group(1))])
            out.setdefault(key, no)
            if n_triple % 2 == 1:
                in_multiline = True
    return out


class Source:
    """Where config values came from: a file (with line numbers) or a dictionary.

    Parameters
    ----------
    name : str
        Shown in errors (a file name, or ``"<dict>"``).
    text : str, optional
        The TOML text, to find lines in.
    """

    def __init__(self, name: str, text: str | None = None) -> None:
        self.name = name
        self.text = text
        self._lines = key_lines(text) if text else {}

    def where(self, key: str) -> str:
        """Return ``"file:line"`` for ``key`` (or its nearest enclosing key), else the name."""
        probe = key
        while probe:
            if probe in self._lines:
                return f"{self.name}:{self._lines[probe]}"
            if re.search(r"\[\d+\]$", probe):  # an entry of an inline array: the array's line
                probe = re.sub(r"\[\d+\]$", "", probe)
                continue
            probe = probe.rpartition(".")[0] if "." in probe else ""
            if not probe and "[" in key:
                break
        return self.name

    def error(
        self, message: str, key: str, *, arrived: str | None = None, hint: str | None = None
    ) -> ConfigError:
        """Build a :class:`ConfigError` that names ``key`` and where it was written."""
        return ConfigError(message, key=key, source=self.where(key), arrived=arrived, hint=hint)


def read_toml(path: str | Path) -> tuple[dict[str, Any], Source]:
    """Parse a TOML file; a syntax error becomes a :class:`ConfigError` with its line.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    (dict, Source)
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            "the config file does not exist",
            key="config",
            arrived=repr(str(p)),
            hint="check the path; examples/oulad_demo.toml is a complete example",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "the config file cannot be read as UTF-8 text",
            key="config",
            arrived=f"{str(p)!r}: {exc}",
        ) from exc
    try:
        data = tomllib.loads(text)
    except RecursionError as exc:  # tomllib recurses into nested arrays and inline tables
        raise too_deep(p.name) from exc
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            "the config file is not valid TOML",
            key="config",
            source=f"{p.name}:{line.group(1)}" if line else p.name,
            arrived=str(exc),
            hint="check quotes, brackets and '=' on that line (https://toml.io)",
        ) from exc
    check_depth(data, p.name)
    return data, Source(p.name, text)


def too_deep(where: str) -> ConfigError:
    """Build the error for a config nested deeper than :data:`MAX_DEPTH`."""
    return ConfigError(
        f"the config is nested too deeply (more than {MAX_DEPTH} levels of tables and arrays)",
        key="config",
        source=where,
        hint="a config needs a few levels: [section], [section.sub] and lists of values",
    )


def check_depth(data: Any, where: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` (iteratively: no recursion to exhaust).

    Parameters
    ----------
    data : object
        Parsed TOML or JSON.
    where : str
        Shown in the error (a file name or ``"<dict>"``).

    Raises
    ------
    ConfigError
        Deeper than :data:`MAX_DEPTH`.

    Examples
    --------
    >>> check_depth({"a": [[1]]}, "<dict>")
    >>> deep: list = []
    >>> for _ in range(40):
    ...     deep = [deep]
    >>> check_depth({"a": deep}, "x.toml")
    Traceback (most recent call last):
    ...
    studentprofile.errors.ConfigError: x.toml config: the config is nested too deeply (more \
than 32 levels of tables and arrays)
      what to do: a config needs a few levels: [section], [section.sub] and lists of values
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise too_deep(where)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((v, depth + 1) for v in value)
