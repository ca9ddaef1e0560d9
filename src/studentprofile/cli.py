"""The ``studentprofile`` command.

Every command prints a short human summary by default, JSON with ``--json``, nothing but errors
with ``--quiet``; errors print one clear message and exit non-zero without a traceback (unless
``--debug``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from studentprofile._version import __version__
from studentprofile.errors import StudentProfileError

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 2  # a StudentProfileError: bad input, config or model files
EXIT_UNEXPECTED = 3  # a bug: please report it
EXIT_PARTIAL = 4  # the job finished but something (e.g. tracking) was not done


class _Out:
    """Where a command writes: text for people, JSON for programs, nothing when quiet."""

    def __init__(self, *, as_json: bool, quiet: bool, stream: TextIO) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.stream = stream

    def line(self, text: str = "") -> None:
        if not self.quiet and not self.as_json:
            self.stream.write(text + "\n")
            self.stream.flush()

    def result(self, payload: dict[str, Any]) -> None:
        if self.as_json:
            self.stream.write(json.dumps(payload, indent=2, default=str) + "\n")
            self.stream.flush()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")


def _cmd_datasets(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile import datasets

    listing = datasets.list_datasets()
    out.result({"datasets": listing.to_dict(orient="records")})
    out.line("Bundled datasets (no download needed):")
    out.line(listing.to_string(index=False))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: _Out) -> int:
    from studentprofile import datasets

    out.line("Loading the bundled OULAD (Open University Learning Analytics Dataset) ...")
    tables = datasets.load_oulad()
    summary = tables.describe().reset_index()
    out.result(
        {
            "dataset": "oulad",
            "students": len(tables.students),
            "events": len(tables.events),
            "outcomes": len(tables.outcomes),
            "by_kind": summary.to_dict(orient="records"),
        }
    )
    out.line(repr(tables))
    out.line(summary.to_string(index=False))
    return EXIT_OK


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace, _Out], int], str, str]] = {
    "demo": (
        _cmd_demo,
        "run the main job on the bundled real data (OULAD)",
        "examples:\n  studentprofile demo\n  studentprofile demo --json > demo.json",
    ),
    "datasets": (
        _cmd_datasets,
        "list the bundled datasets with their row counts",
        "examples:\n  studentprofile datasets\n  studentprofile datasets --json",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="studentprofile",
        description="Student profiling and early warning: features, risk models, reasons, "
        "evaluation and tracking.",
        epilog="Run 'studentprofile <command> --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"studentprofile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (_, help_text, epilog) in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(p)
    return parser


def main(argv: Sequence[str] | None = None, *, stream: TextIO | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (defaults to ``sys.argv[1:]``).
    stream : text stream, optional
        Where to write output (defaults to stdout).

    Returns
    -------
    int
        The exit status: 0 success, 2 a usage or data error, 3 an unexpected error, 4 done with
        parts missing.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> main(["datasets", "--json"], stream=out)
    0
    >>> '"name": "oulad"' in out.getvalue()
    True
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    out = _Out(as_json=args.json, quiet=args.quiet, stream=stream or sys.stdout)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.ERROR if args.quiet else logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = COMMANDS[args.command][0]
    try:
        return func(args, out)
    except StudentProfileError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a command-line user
        if args.debug:
            raise
        sys.stderr.write(
            f"unexpected error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in studentprofile; rerun with --debug and report the traceback\n"
        )
        return EXIT_UNEXPECTED
