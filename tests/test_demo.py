"""`make demo` end to end, shortened: stack up, k6, audit, report, stack down."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_demo_sells_out_and_audits_clean() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"VUS": "20", "DURATION": "4s", "TICKETS": "300"})

    result = subprocess.run(
        [sys.executable, "-m", "devstack", "demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    assert "== report" in output
    assert re.search(r"business errors\s+0\.00%", output), output
    confirmed = int(re.search(r"bookings\s+(\d+) confirmed", output).group(1))
    sold_out = int(re.search(r"(\d+) sold out \(409\)", output).group(1))
    assert confirmed > 0
    assert sold_out > 0, "300 tickets should sell out within 4 s"
    assert "oversold tickets: 0; leaked tickets (drift): 0; events failing: 0" in output
