"""Fault-injection tests: kill, restart or break one component under booking load."""
