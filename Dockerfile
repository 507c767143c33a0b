# One image for the three Python services; docker-compose.yml picks the
# service with `python -m inventory_service|booking_service|rest_shim`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Only the packaging metadata and the packages listed in pyproject.toml are
# copied, because the checkout may hold a local .venv and the devstack data
# in .run. tests/test_compose.py fails when a package is missing here.
COPY pyproject.toml ./
COPY booking_monitor_pb ./booking_monitor_pb
COPY common ./common
COPY inventory_service ./inventory_service
COPY booking_service ./booking_service
COPY clients ./clients
COPY rest_shim ./rest_shim
COPY devstack ./devstack
COPY bookingctl ./bookingctl

RUN pip install . \
    && useradd --system --create-home booking

# Start from the home directory so that `python -m` imports the installed
# packages and not the copies in /src.
USER booking
WORKDIR /home/booking
