r"""Safe files: the package's one atomic-write helper and its one CSV-for-people writer.

Every file the library writes goes through :func:`atomic_write` (or one of its wrappers): the
bytes go to a temporary file with a unique name, created with ``O_EXCL`` in the target's own
folder (so a planted symlink or an existing file is never written through), flushed and
``fsync``-ed, then renamed over the target in one step; on any failure the temporary file is
removed and the target is left as it was. A reader sees the old file or the new one, never half
of one.

CSV files meant for people (alerts, caseloads, scores) go through :func:`write_people_csv`,
which neutralises spreadsheet formulas with OWASP's rule: a text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a single quote in front, so a spreadsheet
shows it as text instead of running it.

This module sits at the bottom of the layers with :mod:`studentprofile.errors`: it imports
nothing else from the package.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(folder / "note.txt", "hello").read_text()
'hello'
>>> neutralise_cell('=HYPERLINK("http://x")')
'\'=HYPERLINK("http://x")'
>>> neutralise_cell("-0.5"), neutralise_cell(-0.5)
("'-0.5", -0.5)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

import pandas as pd

from .errors import OutputError

__all__ = [
    "FORMULA_PREFIXES",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "neutralise_cell",
    "neutralise_frame",
    "write_people_csv",
]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_TMP_PREFIX = "."
_TMP_SUFFIX = ".tmp"


def _fail(target: Path, exc: BaseException, doing: str) -> OutputError:
    return OutputError(
        f"{target}: the file could not be {doing}",
        arrived=f"{type(exc).__name__}: {exc}",
        hint="write to a folder you can write to, on a disk with space (a regular file, "
        "not a device or /proc)",
    )


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk (the durability of a rename); a no-op where unsupported."""
    # not every platform or file system can open a folder
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@overload
@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w"] = ..., *, encoding: str = ...,
    newline: str | None = ...,
) -> Iterator[IO[str]]: ...


@overload
@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["wb"], *, encoding: str = ...,
    newline: str | None = ...,
) -> Iterator[IO[bytes]]: ...


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: Literal["w", "wb"] = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a file for writing that appears at ``path`` only when the block ends without error.

    Parameters
    ----------
    path : str or os.PathLike
        The target file. Its folder is created when missing.
    mode : {"w", "wb"}, default "w"
        Text or binary.
    encoding : str, default "utf-8"
        Encoding in text mode.
    newline : str, optional
        Passed to :func:`open` in text mode (``""`` for the csv module).

    Yields
    ------
    file object
        A new temporary file in the target's folder (unique name, created with ``O_EXCL``).

    Raises
    ------
    OutputError
        The folder cannot be created or written, or the target is not a regular file's place
        (a device, ``/proc``, a folder).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write("one")
    >>> target.read_text()
    'one'
    """
    target = Path(path)
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")  # programming error
    if target.is_dir():
        raise OutputError(
            f"{target}: is a folder, not a file",
            arrived=repr(str(target)),
            hint="give a file name inside the folder",
        )
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{_TMP_PREFIX}{target.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}"
        # O_EXCL (and O_NOFOLLOW where there is one): never write through an existing file or a
        # planted symlink; 0o666 lets the umask decide the final permissions
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise _fail(target, exc, "created") from exc
    try:
        if mode == "wb":
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                raise _fail(target, exc, "written") from exc
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise _fail(target, exc, "written") from exc
        fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The target file.
    data : bytes
        The whole content.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "b.bin", b"01").stat().st_size
    2
    """
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The target file.
    text : str
        The whole content.
    encoding : str, default "utf-8"
        The encoding.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "t.txt", "Zoë").read_text("utf-8")
    'Zoë'
    """
    with atomic_write(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], data: Any, **dump_kwargs: Any) -> Path:
    """Write ``data`` as JSON (UTF-8, no NaN, sorted keys, indented) to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The target file.
    data : object
        Anything :func:`json.dumps` accepts (NaN and infinity are refused).
    **dump_kwargs
        Overrides of the defaults ``indent=2, sort_keys=True, allow_nan=False,
        ensure_ascii=False``.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_json(pathlib.Path(tempfile.mkdtemp()) / "d.json", {"b": 1, "a": 2})
    >>> p.read_text().splitlines()[1]
    '  "a": 2,'
    """
    options: dict[str, Any] = {
        "indent": 2, "sort_keys": True, "allow_nan": False, "ensure_ascii": False
    }
    options.update(dump_kwargs)
    return atomic_write_text(path, json.dumps(data, **options) + "\n")


def neutralise_cell(value: Any) -> Any:
    """Return ``value`` safe to open in a spreadsheet (OWASP's rule for CSV injection).

    A string that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single
    quote in front; anything else (numbers included) is returned unchanged.

    Parameters
    ----------
    value : object
        One cell.

    Returns
    -------
    object
        The cell, neutralised when it is formula-like text.

    Examples
    --------
    >>> neutralise_cell("@SUM(A1)"), neutralise_cell("Zoë"), neutralise_cell(3)
    ("'@SUM(A1)", 'Zoë', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells, column names and index are spreadsheet-safe.

    Numeric, boolean and datetime columns are left as they are; only text (object, string and
    categorical) columns are changed, cell by cell, with :func:`neutralise_cell`.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table meant for people.

    Returns
    -------
    pandas.DataFrame
        A neutralised copy.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_frame(pd.DataFrame({"id": ["=1+1", "007"], "risk": [-0.5, 0.2]}))
          id  risk
    0  '=1+1  -0.5
    1    007   0.2
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise_cell, na_action="ignore")
    out.columns = pd.Index([neutralise_cell(c) for c in out.columns])
    if isinstance(out.index, pd.MultiIndex):
        out.index = pd.MultiIndex.from_arrays(
            [_neutral_level(out.index.get_level_values(i)) for i in range(out.index.nlevels)],
            names=[neutralise_cell(n) for n in out.index.names],
        )
    else:
        out.index = _neutral_level(out.index)
        out.index.name = neutralise_cell(out.index.name)
    return out


def _neutral_level(index: pd.Index) -> pd.Index:
    if index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        return pd.Index([neutralise_cell(v) for v in index], dtype=object, name=index.name)
    return index


def write_people_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False, **to_csv: Any
) -> Path:
    r"""Write a CSV meant for people: spreadsheet formulas neutralised, written atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : str or os.PathLike
        The target file.
    index : bool, default False
        Whether to write the index.
    **to_csv
        Passed to :meth:`pandas.DataFrame.to_csv` (``sep``, ``float_format``, ...).

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "alerts.csv"
    >>> _ = write_people_csv(pd.DataFrame({"student_id": ["+4412"]}), p)
    >>> p.read_text().splitlines()
    ['student_id', "'+4412"]
    >>> _ = write_people_csv(pd.DataFrame({"note": ["ok\r=1+1"]}), p)
    >>> p.read_bytes()
    b'note\r\n"ok\r=1+1"\r\n'
    """
    buf = io.StringIO()
    # CRLF rows: a cell holding a bare CR or LF is then always quoted, so no reader can split a
    # row there and start the next part with a formula
    to_csv.setdefault("lineterminator", "\r\n")
    neutralise_frame(frame).to_csv(buf, index=index, **to_csv)
    return atomic_write_text(path, buf.getvalue())
