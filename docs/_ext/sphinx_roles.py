"""Griffe extension: Sphinx roles in the docstrings become links of the API reference.

The docstrings are numpydoc and cite other names the Sphinx way (:func:`roc_auc`,
:meth:`RiskModel.explain`, :class:`~studentprofile.evaluation.FairnessAudit`). mkdocstrings
renders Markdown, where such a role would show as raw text. Before the pages render, this
extension rewrites each role into a Markdown cross-reference ``[`roc_auc`][studentprofile.
evaluation.roc_auc]`` when the name is one the reference renders (a package's ``__all__``, a
documented member of an exported class), else into a plain code span: no reference is left
that ``mkdocs build --strict`` could not resolve.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

#: The packages that have a page under docs/api/ (their ``__all__`` is rendered).
PAGES = ("tables", "datasets", "io", "features", "labels", "models", "compiled", "explain",
         "evaluation", "warning", "tracking", "spark", "pipeline", "errors")

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj|const):`([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles into Markdown links or code spans."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite every docstring of the loaded package once it is complete."""
        # only what a page renders: a documented export (constants without a docstring and the
        # modules themselves have no heading to link to)
        public: set[str] = set()
        canonical: dict[str, str] = {}
        for page in PAGES:
            module = pkg.members.get(page)
            if module is None:
                continue
            for name in module.exports or []:
                if name not in module.members:
                    continue
                member = module.members[name]
                path = f"{module.path}.{name}"
                target = member.final_target if member.is_alias else member
                if not target.docstring:
                    continue
                public.add(path)
                canonical.setdefault(target.path, path)
                if target.is_class:
                    for sub_name, sub in target.members.items():
                        if sub_name.startswith("_") or sub.is_alias or not sub.docstring:
                            continue
                        public.add(f"{path}.{sub_name}")
                        canonical.setdefault(sub.path, f"{path}.{sub_name}")
        seen: set[int] = set()
        for obj in _walk(pkg):
            if obj.docstring is None or id(obj.docstring) in seen:
                continue
            seen.add(id(obj.docstring))
            package = _package_of(obj)
            obj.docstring.value = ROLE.sub(
                lambda m, p=package: _link(m.group(1), p, public, canonical),
                obj.docstring.value,
            )


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            continue
        yield from _walk(member)


def _package_of(obj: griffe.Object) -> str:
    parts = obj.path.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def _link(text: str, package: str, public: set[str], canonical: dict[str, str]) -> str:
    if "<" in text and text.endswith(">"):  # `title <target>`
        title, target = text[:-1].split("<", 1)
        shown, target = title.strip(), target.strip()
    else:
        target = text
        shown = ""
    short = target.startswith("~")
    target = target.lstrip("~.").removesuffix("()")
    shown = shown or (target.rsplit(".", 1)[-1] if short else target)
    found = _resolve(target, package, public, canonical)
    if found is None:
        return f"`{shown}`"
    return f"[`{shown}`][{found}]"


def _resolve(target: str, package: str, public: set[str],
             canonical: dict[str, str]) -> str | None:
    for candidate in (target, f"{package}.{target}", f"studentprofile.{target}"):
        if candidate in public:
            return candidate
        if candidate in canonical:
            return canonical[candidate]
    matches = sorted(p for p in public if p.endswith(f".{target}"))
    if len(matches) > 1:
        matches = [p for p in matches if p.startswith(f"{package}.")] or matches
    return matches[0] if len(matches) == 1 else None
