"""Entry point: python -m booking_service [--config PATH] [--help]."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from booking_service.config import CONFIG_TABLE, SETTINGS, BookingConfig
from booking_service.server import serve
from common import config_file, logs, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booking_service",
        description="Serve booking.v1.BookingService: events and bookings in PostgreSQL, booked through the inventory service.",
        epilog=config_file.describe(SETTINGS, CONFIG_TABLE),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help=config_file.OPTION_HELP)
    args = parser.parse_args(argv)
    config_path = config_file.resolve_path(args.config)
    try:
        config = BookingConfig.from_env(config_path)
    except settings.SettingsError as exc:
        print(f"booking service: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    if config_path is not None:
        logging.getLogger("booking_service").info("read settings from configuration file %s", config_path)
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
