"""Entry point: python -m inventory_service [--help]."""

from __future__ import annotations

import argparse
import asyncio
import sys

from common import logs, settings
from inventory_service.config import SETTINGS, InventoryConfig
from inventory_service.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inventory_service",
        description="Serve inventory.v1.InventoryService: per-event stock and holds in Redis.",
        epilog=settings.describe(SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        config = InventoryConfig.from_env()
    except settings.SettingsError as exc:
        print(f"inventory service: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
