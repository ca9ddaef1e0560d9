"""The exception hierarchy of studentprofile.

Every error the library raises on purpose is a :class:`StudentProfileError`. Each message states
the rule that was broken, shows what arrived (with ``repr``) and says what to do, so that a campus
system can log it and a person can act on it without reading a traceback.

This module imports nothing from the rest of the package (every layer imports it).

Examples
--------
>>> from studentprofile.errors import SchemaError, StudentProfileError
>>> err = SchemaError(
...     "`value` must be numeric",
...     table="events",
...     column="value",
...     rule="numeric",
...     arrived="'abc' in 1 row",
...     hint="clean the column or map text codes to numbers before building EventTables",
... )
>>> isinstance(err, StudentProfileError), isinstance(err, ValueError)
(True, True)
>>> print(err)
events.value [numeric]: `value` must be numeric
  arrived: 'abc' in 1 row
  what to do: clean the column or map text codes to numbers before building EventTables
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "DataIntegrityError",
    "DataQualityWarning",
    "DependencyError",
    "LeakageError",
    "ModelIntegrityError",
    "NotFittedError",
    "NotificationError",
    "OutputError",
    "SchemaError",
    "SourceError",
    "StateError",
    "StudentProfileError",
    "TrackingError",
]


class StudentProfileError(Exception):
    """Root of every error that studentprofile raises on purpose.

    Parameters
    ----------
    message : str
        The rule that was broken, in one sentence.
    arrived : str, optional
        What arrived instead (already formatted, values shown with ``repr``).
    hint : str, optional
        What the caller should do about it.
    """

    def __init__(self, message: str, *, arrived: str | None = None, hint: str | None = None):
        self.message = message
        self.arrived = arrived
        self.hint = hint
        super().__init__(self._render())

    def _prefix(self) -> str:
        return ""

    def _render(self) -> str:
        lines = [f"{self._prefix()}{self.message}"]
        if self.arrived:
            lines.append(f"  arrived: {self.arrived}")
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return "\n".join(lines)

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the structured fields when an error crosses a process boundary
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[StudentProfileError], state: dict[str, Any]) -> StudentProfileError:
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    Exception.__init__(obj, obj._render())
    return obj


class SchemaError(StudentProfileError, ValueError):
    """A table does not meet its data contract.

    Parameters
    ----------
    message : str
        The rule that was broken, in one sentence.
    table : str
        Which table (``"students"``, ``"events"``, ``"outcomes"``, ``"grid"``, ...).
    column : str, optional
        Which column, when the rule is about one column.
    rule : str, optional
        A short stable name of the rule (``"required-column"``, ``"numeric"``, ...), for programs.
    arrived : str, optional
        What arrived, formatted.
    rows : str, optional
        Up to five offending rows, already formatted as text.
    n_bad : int, optional
        How many rows break the rule in all.
    hint : str, optional
        What the caller should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str,
        column: str | None = None,
        rule: str | None = None,
        arrived: str | None = None,
        rows: str | None = None,
        n_bad: int | None = None,
        hint: str | None = None,
    ):
        self.table = table
        self.column = column
        self.rule = rule
        self.rows = rows
        self.n_bad = n_bad
        super().__init__(message, arrived=arrived, hint=hint)

    def _prefix(self) -> str:
        where = self.table if self.column is None else f"{self.table}.{self.column}"
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}{rule}: "

    def _render(self) -> str:
        text = super()._render()
        if self.rows:
            shown = "" if self.n_bad is None else f" ({self.n_bad:,} in all, first 5 shown)"
            body = "\n".join("    " + line for line in self.rows.splitlines())
            head, sep, tail = text.partition("\n  what to do:")
            text = f"{head}\n  offending rows{shown}:\n{body}{sep}{tail}"
        return text


class ConfigError(StudentProfileError, ValueError):
    """A parameter, spec or configuration value is invalid.

    Parameters
    ----------
    message : str
        The rule that was broken.
    key : str, optional
        The parameter or configuration key (dotted for nested keys, e.g. ``"model.learning_rate"``).
    source : str, optional
        Where the value came from, e.g. ``"experiment.toml:12"``.
    arrived, hint : str, optional
        See :class:`StudentProfileError`.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        source: str | None = None,
        arrived: str | None = None,
        hint: str | None = None,
    ):
        self.key = key
        self.source = source
        super().__init__(message, arrived=arrived, hint=hint)

    def _prefix(self) -> str:
        parts = [p for p in (self.source, self.key) if p]
        return f"{' '.join(parts)}: " if parts else ""


class NotFittedError(StudentProfileError, ValueError, AttributeError):
    """An estimator or builder was used before ``fit``.

    It is also a ``ValueError`` and an ``AttributeError``, as scikit-learn's own
    ``NotFittedError`` is, so code written against scikit-learn catches it.
    """


class ModelIntegrityError(StudentProfileError):
    """A saved model artefact is tampered with, truncated, or incompatible with this version."""


class DataIntegrityError(StudentProfileError):
    """A bundled or saved data file does not match its recorded SHA-256 hash."""


class TrackingError(StudentProfileError):
    """Experiment tracking (MLflow) failed; the model and reports are still on local disk."""


class LeakageError(StudentProfileError):
    """An operation would let information from after an as-of date reach a feature."""


class OutputError(StudentProfileError, OSError):
    """A file the library was asked to write could not be written; nothing half-written is left.

    It is also an ``OSError``, so code that already catches file errors keeps working.
    """


class SourceError(StudentProfileError):
    """A campus data source (a database, a file, an export) could not be read.

    The message names the source and says why; it never contains a password or a full
    connection URL. Nothing from a source that failed is returned half-read.

    Parameters
    ----------
    message : str
        What went wrong.
    source : str, optional
        The source's name (``"events"``, ``"sis_students"``, ...).
    arrived, hint : str, optional
        See :class:`StudentProfileError`.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        arrived: str | None = None,
        hint: str | None = None,
    ):
        self.source = source
        super().__init__(message, arrived=arrived, hint=hint)

    def _prefix(self) -> str:
        return f"source {self.source!r}: " if self.source else ""


class StateError(StudentProfileError, ValueError):
    """An action is not allowed in the current state of a record (e.g. closing a closed case).

    The message names the record, its current state and the actions or states allowed from it.
    """

class NotificationError(StudentProfileError):
    """A notification (an e-mail, a webhook call) could not be delivered this time.

    Raised by notifiers: a server that is down, slow past the timeout, or answering with an
    error. The message names the channel and the error's class; it never contains student data,
    a password or a signing secret.

    Parameters
    ----------
    message : str
        What went wrong.
    channel : str, optional
        The channel without credentials (``"smtp://mail.campus.edu:587"``, a webhook URL
        without its query).
    retry : bool, default True
        Whether trying again later may succeed (``False`` for a refusal such as HTTP 404 or an
        SMTP 5xx reply).
    arrived, hint : str, optional
        See :class:`StudentProfileError`.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str | None = None,
        retry: bool = True,
        arrived: str | None = None,
        hint: str | None = None,
    ):
        self.channel = channel
        self.retry = retry
        super().__init__(message, arrived=arrived, hint=hint)

    def _prefix(self) -> str:
        return f"{self.channel}: " if self.channel else ""


class DependencyError(StudentProfileError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


class DataQualityWarning(UserWarning):
    """Data is valid but suspicious (for example exact duplicate events); it was kept as it is."""
