"""Entry point: python -m booking_service [--help]."""

from __future__ import annotations

import argparse
import asyncio
import sys

from booking_service.config import SETTINGS, BookingConfig
from booking_service.server import serve
from common import logs, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booking_service",
        description="Serve booking.v1.BookingService: events and bookings in PostgreSQL, booked through the inventory service.",
        epilog=settings.describe(SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        config = BookingConfig.from_env()
    except settings.SettingsError as exc:
        print(f"booking service: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
