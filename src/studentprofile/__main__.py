"""``python -m studentprofile``: the same as the ``studentprofile`` command."""

from studentprofile.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
