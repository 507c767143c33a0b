"""CPU seconds used by process trees, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(root: int) -> float:
    """Sum user and system CPU time of process `root` and every live descendant.

    Descendants are found through parent ids, because some servers' children
    (PostgreSQL's backends) start sessions of their own.
    """
    processes: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name come state (field 3), ppid (field 4) and,
        # as fields 14 and 15, utime and stime in clock ticks (proc(5)).
        processes[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    included = {root} if root in processes else set()
    changed = True
    while changed:
        changed = False
        for pid, (parent, _) in processes.items():
            if parent in included and pid not in included:
                included.add(pid)
                changed = True
    return sum(processes[pid][1] for pid in included) / CLOCK_TICKS


def snapshot(groups: dict[str, int]) -> dict[str, float]:
    return {name: group_cpu_seconds(pgid) for name, pgid in groups.items()}


def difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}
