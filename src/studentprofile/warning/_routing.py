"""Routing by reason: which role a case calls for, from the reasons that raised its alert.

A :class:`Routing` maps reason *families* (``academic``, ``behavioral``, ``participation``,
``wellbeing``, ``static``) and *kinds* (``class_attendance``, ``counselling_visit``, ...) to
staff roles; a kind overrides its family; anything unmapped goes to the default role. A case's
roles are the distinct roles of its reasons in reason order (the first is the case's role); the
case *owner* comes from the caseload of ``owner_role`` (the advisor, by default).

The table is plain TOML so that a student-services office can edit it::

    [routing]
    default = "advisor"
    owner_role = "advisor"

    [routing.families]
    academic = "tutor"
    wellbeing = "counsellor"
    participation = "community_officer"

    [routing.kinds]
    counselling_visit = "counsellor"
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studentprofile.errors import ConfigError
from studentprofile.tables import FAMILIES

__all__ = ["REASON_FAMILIES", "Routing"]

#: Families a reason can carry: the event families and ``static`` (student attributes).
REASON_FAMILIES: tuple[str, ...] = (*FAMILIES, "static")

_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("default", "owner_role", "families", "kinds")

#: Error texts (tested as they are).
BAD_ROLE = "a role must be lower-case text: a letter, then letters, digits or '_'"
UNKNOWN_FAMILY = "routing names a reason family that does not exist"
UNKNOWN_KEY = "the routing table has a key it does not know"


def _role(value: Any, key: str, source: str | None) -> str:
    if not isinstance(value, str) or not _ROLE.match(value):
        raise ConfigError(BAD_ROLE, key=key, source=source, arrived=repr(value),
                          hint="e.g. 'tutor', 'counsellor', 'community_officer'")
    return value


def _table(value: Any, key: str, source: str | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"routing.{key} must be a table of name -> role", key=f"routing.{key}",
                          source=source, arrived=repr(value),
                          hint=f'e.g. [routing.{key}] with lines like academic = "tutor"')
    out: dict[str, str] = {}
    for name, role in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"routing.{key} names must be non-empty text",
                              key=f"routing.{key}", source=source, arrived=repr(name))
        out[name] = _role(role, f"routing.{key}.{name}", source)
    return out


@dataclass(frozen=True, kw_only=True)
class Routing:
    """Reason families and kinds -> staff roles, with a default role.

    Parameters
    ----------
    families : mapping of str to str, optional
        Reason family -> role (families: ``REASON_FAMILIES``).
    kinds : mapping of str to str, optional
        Reason kind -> role; overrides the kind's family.
    default : str, default "advisor"
        The role of a reason that no family or kind names, and of a case without reasons.
    owner_role : str, default "advisor"
        The role whose caseload owns cases (see :func:`open_cases`).
    source : str, optional
        Where the table came from (for error messages).

    Examples
    --------
    >>> r = Routing.from_dict({"families": {"academic": "tutor", "wellbeing": "counsellor"},
    ...                        "kinds": {"library_entry": "librarian"}})
    >>> r.role_of({"family": "academic", "kind": "assessment_score"})
    'tutor'
    >>> r.role_of({"family": "behavioral", "kind": "library_entry"})
    'librarian'
    >>> r.roles_of([{"family": "wellbeing"}, {"family": "academic"}, {"text": "no code"}])
    ['counsellor', 'tutor', 'advisor']
    """

    families: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    default: str = "advisor"
    owner_role: str = "advisor"
    source: str | None = None

    def __post_init__(self) -> None:
        fam = _table(self.families, "families", self.source)
        unknown = sorted(set(fam) - set(REASON_FAMILIES))
        if unknown:
            raise ConfigError(UNKNOWN_FAMILY, key="routing.families", source=self.source,
                              arrived=repr(unknown),
                              hint=f"use one of {list(REASON_FAMILIES)!r} (kinds go under "
                                   "[routing.kinds])")
        object.__setattr__(self, "families", fam)
        object.__setattr__(self, "kinds", _table(self.kinds, "kinds", self.source))
        _role(self.default, "routing.default", self.source)
        _role(self.owner_role, "routing.owner_role", self.source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Routing:
        """Build a routing from a dictionary (a ``[routing]`` table or the whole document).

        Parameters
        ----------
        data : mapping
            ``default``, ``owner_role``, ``families`` and ``kinds``, either at the top or under
            a ``routing`` key.
        source : str, optional
            Where it came from, for error messages.

        Returns
        -------
        Routing

        Raises
        ------
        ConfigError
            Unknown keys, a family that does not exist, a role that is not lower-case text.

        Examples
        --------
        >>> Routing.from_dict({"routing": {"default": "advisor",
        ...                                "families": {"participation": "community_officer"}}})
        ... # doctest: +NORMALIZE_WHITESPACE
        Routing(families={'participation': 'community_officer'}, kinds={}, default='advisor',
                owner_role='advisor', source=None)
        """
        if not isinstance(data, Mapping):
            raise ConfigError("a routing table must be a mapping", key="routing", source=source,
                              arrived=f"an object of type {type(data).__name__}")
        if "routing" in data and isinstance(data["routing"], Mapping):
            data = data["routing"]
        extra = sorted(set(data) - set(_KEYS))
        if extra:
            raise ConfigError(UNKNOWN_KEY, key="routing", source=source, arrived=repr(extra),
                              hint=f"the keys are {list(_KEYS)!r}")
        return cls(families=data.get("families") or {}, kinds=data.get("kinds") or {},
                   default=data.get("default", "advisor"),
                   owner_role=data.get("owner_role", "advisor"), source=source)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Routing:
        """Read a routing table from a TOML file (a ``[routing]`` table or the whole file).

        Parameters
        ----------
        path : path
            The TOML file.

        Returns
        -------
        Routing

        Raises
        ------
        ConfigError
            A missing or unreadable file, invalid TOML, or an invalid table.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")  # a BOM (Notepad, Excel) is fine
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("the routing file cannot be read", key="routing",
                              source=str(p), arrived=f"{type(exc).__name__}: {exc}",
                              hint="give the path of a UTF-8 TOML file") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("the routing file is not valid TOML", key="routing",
                              source=str(p), arrived=str(exc)) from None
        return cls.from_dict(data, source=str(p))

    def to_dict(self) -> dict[str, Any]:
        """Return the table as a JSON/TOML-ready dictionary."""
        return {"default": self.default, "owner_role": self.owner_role,
                "families": dict(self.families), "kinds": dict(self.kinds)}

    def role_of(self, reason: Mapping[str, Any] | None) -> str:
        """Return the role one reason record calls for (kind, then family, then the default)."""
        if not reason:
            return self.default
        kind = reason.get("kind")
        if isinstance(kind, str) and kind in self.kinds:
            return self.kinds[kind]
        family = reason.get("family")
        if isinstance(family, str) and family in self.families:
            return self.families[family]
        return self.default

    def roles_of(self, reasons: Iterable[Mapping[str, Any]]) -> list[str]:
        """Return the distinct roles of a case's reasons, in reason order (the default if none)."""
        out: list[str] = []
        for r in reasons:
            role = self.role_of(r)
            if role not in out:
                out.append(role)
        return out or [self.default]
