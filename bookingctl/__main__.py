"""bookingctl: command line for people who operate the booking system.

`python -m bookingctl --help` lists the commands; the `bookingctl` script
that pyproject.toml installs runs the same main().
"""

from __future__ import annotations

import sys

from bookingctl.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
