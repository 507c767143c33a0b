"""The embedded stack: private PostgreSQL and Redis processes and the three services.

Used by `make up` / `make down` / `make demo` and by the tests. It starts its
own servers from the machine's binaries, in a run folder, on free loopback
ports, and touches an outside server only when DATABASE_URL or REDIS_URL
point at one.
"""
