"""Results of the fault tests, collected for the table that conftest.py prints after the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One invariant checked after a fault. The message carries the numbers behind the result."""

    name: str
    ok: bool
    message: str


@dataclass
class FaultRow:
    """One line of the results table. requests, confirmed, sold_out and errors count Book calls only."""

    fault: str
    requests: int = 0
    confirmed: int = 0
    sold_out: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    cancels_ok: int = 0
    cancels_sent: int = 0
    recovery_s: float | None = None
    # Bookings in PostgreSQL whose request did not end CONFIRMED, by the client's outcome.
    unreported: Counter[str] = field(default_factory=Counter)
    checks: list[Check] = field(default_factory=list)
    # Lines printed under the table, such as how the calls in flight at the fault ended.
    notes: list[str] = field(default_factory=list)
    # Set when the test stopped before its checks ran.
    error: str = ""

    def result(self) -> str:
        if self.error:
            return f"ERROR: {self.error}"
        failed = [check.name for check in self.checks if not check.ok]
        return f"FAIL: {', '.join(failed)}" if failed else "pass"


# Filled by the tests in test order; read by pytest_terminal_summary.
RESULTS: list[FaultRow] = []
# Folders holding the logs of each fault stack, shown under the table.
RUN_DIRS: list[str] = []

COLUMNS = (
    "fault", "requests", "confirmed", "sold out", "errors by code", "cancels ok/sent", "recovery s",
    "booked, not told", "invariants", "result",
)


def format_table(rows: list[FaultRow]) -> list[str]:
    """Lay the rows out as a fixed-width text table, one line per fault."""
    cells = [COLUMNS]
    for row in rows:
        errors = _counts(row.errors)
        recovery = "-" if row.recovery_s is None else f"{row.recovery_s:.2f}"
        passed = sum(1 for check in row.checks if check.ok)
        invariants = f"{passed}/{len(row.checks)} ok" if row.checks else "-"
        cells.append((
            row.fault, str(row.requests), str(row.confirmed), str(row.sold_out), errors,
            f"{row.cancels_ok}/{row.cancels_sent}", recovery,
            _counts(row.unreported), invariants, row.result(),
        ))
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def format_notes(rows: list[FaultRow]) -> list[str]:
    """List each row's notes, then the message of each failed check."""
    lines = []
    for row in rows:
        lines.extend(f"{row.fault}: {note}" for note in row.notes)
        lines.extend(f"{row.fault}: {check.name} FAILED: {check.message}" for check in row.checks if not check.ok)
    return lines


def _counts(counts: Counter[str]) -> str:
    return " ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "-"
