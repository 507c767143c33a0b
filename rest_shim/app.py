"""The REST routes, translating JSON requests into booking service calls.

Status codes:
- 200/201 success
- 400 invalid input
- 401 missing or wrong admin token
- 404 unknown event or booking
- 408 body not received in time
- 409 sold out
- 413 body too large
- 415 body not declared as JSON
- 422 an Idempotency-Key reused with a different body
- 503 too many requests in flight (with Retry-After), or a dependency is
  down or timed out

Errors are JSON objects {"error": "..."}. Every check of the request runs
before the booking service is called.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients.booking import BookingClient
from common import logs, rules
from common.sold_out import SoldOutMemory
from common.rules import InvalidInput
from rest_shim import body as parse
from rest_shim.auth import AdminToken
from rest_shim.config import ShimConfig
from rest_shim.errors import RequestRejected
from rest_shim.limits import RequestLimits, read_body
from rest_shim.request_id import RequestIdMiddleware
from rest_shim.views import STATUS_VALUES, booking_json, event_json

logger = logging.getLogger(__name__)

REQUESTS = Counter("rest_requests_total", "HTTP requests by route and status", ["route", "status"])
LATENCY = Histogram(
    "rest_request_seconds", "HTTP request latency by route", ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5),
)

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 422,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 503,
    grpc.StatusCode.CANCELLED: 503,
}
IDEMPOTENCY_HEADER = "idempotency-key"
# Prefixes of the booking service's own UNAVAILABLE messages. Any other
# UNAVAILABLE comes from grpcio, e.g. when the booking service is down.
SERVICE_MESSAGE_PREFIXES = ("PostgreSQL unavailable", "inventory unavailable")
CREATE_EVENT_FIELDS = frozenset({"name", "total_tickets"})
BOOK_FIELDS = frozenset({"user_id", "event_id", "quantity"})
HISTORY_PARAMETERS = frozenset({"page", "size", "status", "user_id", "event_id"})
NO_PARAMETERS: frozenset[str] = frozenset()
# The committed description of this API, served as it is at /openapi.json.
OPENAPI_DOCUMENT = (Path(__file__).parent / "openapi.json").read_bytes()
# Probes and metrics, which the in-flight bound neither counts nor rejects.
UNLIMITED_PATHS = ("/healthz", "/readyz", "/api/v1/health", "/metrics")


def idempotency_key(request: Request) -> str:
    """Return the Idempotency-Key header, or "" when absent."""
    value = request.headers.get(IDEMPOTENCY_HEADER, "")
    try:
        return rules.idempotency_key(value)
    except InvalidInput as exc:
        raise InvalidInput("Idempotency-Key", exc.rule) from None


def grpc_error_message(exc: grpc.aio.AioRpcError) -> str:
    """Return the message of a failed booking service call for the client.

    grpcio's own details ("Deadline Exceeded", "failed to connect to all
    addresses; ...") name no service, so those codes get a message of our own.
    """
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "booking service did not answer in time; retry later"
    if code == grpc.StatusCode.UNAVAILABLE and not (exc.details() or "").startswith(SERVICE_MESSAGE_PREFIXES):
        return f"booking service unavailable: {exc.details() or 'no details'}"
    return exc.details() or code.name


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


Handler = Callable[[Request], Awaitable[Response]]


def instrumented(route: str, handler: Handler) -> Handler:
    """Count and time the handler, and turn invalid input and gRPC errors into JSON errors."""

    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except InvalidInput as exc:
            response = error_response(str(exc), 400)
        except RequestRejected as exc:
            response = error_response(str(exc), exc.status, exc.headers)
        except grpc.aio.AioRpcError as exc:
            status = GRPC_TO_HTTP.get(exc.code(), 500)
            if status >= 500:
                logger.warning("%s %s failed: %s: %s", request.method, request.url.path, exc.code().name, exc.details())
            response = error_response(grpc_error_message(exc), status)
        REQUESTS.labels(route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(time.perf_counter() - started)
        return response

    return wrapper


class Routes:
    def __init__(self, config: ShimConfig) -> None:
        self.config = config
        self.admin = AdminToken(config.admin_token)
        self.booking: BookingClient | None = None
        # Each shim process returns 409 to repeated sold-out requests itself for a
        # moment, which keeps the sold-out phase of a flash sale off gRPC.
        self.sold_out = SoldOutMemory(config.sold_out_memory_ms / 1000)

    @property
    def client(self) -> BookingClient:
        assert self.booking is not None, "the lifespan opens the client before any request"
        return self.booking

    async def json_object(self, request: Request) -> dict:
        """Check the Content-Type, read the body within the size and time limits, and parse it."""
        parse.check_content_type(request.headers.get("content-type"))
        raw = await read_body(
            request, max_bytes=self.config.max_body_bytes, timeout_s=self.config.body_timeout_ms / 1000
        )
        return parse.parse_object(raw)

    async def create_event(self, request: Request) -> Response:
        self.admin.check(request)
        parse.query_params(request.scope["query_string"], NO_PARAMETERS)
        payload = await self.json_object(request)
        parse.reject_unknown_fields(payload, CREATE_EVENT_FIELDS)
        name = rules.event_name(parse.string_field(payload, "name"))
        total = rules.total_tickets(parse.integer_field(payload, "total_tickets"))
        key = idempotency_key(request)
        event = await self.client.create_event(name, total, idempotency_key=key)
        return json_response(event_json(event), 201)

    async def get_event(self, request: Request) -> Response:
        parse.query_params(request.scope["query_string"], NO_PARAMETERS)
        event_id = parse.path_id(request.path_params["event_id"], "event_id")
        return json_response(event_json(await self.client.get_event(event_id)))

    async def book(self, request: Request) -> Response:
        parse.query_params(request.scope["query_string"], NO_PARAMETERS)
        payload = await self.json_object(request)
        parse.reject_unknown_fields(payload, BOOK_FIELDS)
        user_id = rules.positive_id("user_id", parse.integer_field(payload, "user_id"))
        event_id = rules.positive_id("event_id", parse.integer_field(payload, "event_id"))
        quantity = rules.quantity(parse.integer_field(payload, "quantity"))
        key = idempotency_key(request)
        # A request with an idempotency key always reaches the booking
        # service, so its first result is recorded under the key.
        if not key and self.sold_out.sold_out(event_id, quantity) is not None:
            return error_response("sold out", 409)
        reply = await self.client.book(user_id=user_id, event_id=event_id, quantity=quantity, idempotency_key=key)
        if reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT:
            self.sold_out.note(event_id, reply.available_tickets)
            return error_response("sold out", 409)
        if reply.outcome == pb.BOOK_OUTCOME_USER_LIMIT_REACHED:
            return error_response(f"user ticket limit reached: user {user_id} may not book {quantity} more tickets of event {event_id}", 409)
        return json_response(booking_json(reply.booking))

    async def get_booking(self, request: Request) -> Response:
        parse.query_params(request.scope["query_string"], NO_PARAMETERS)
        booking_id = parse.path_id(request.path_params["booking_id"], "booking_id")
        return json_response(booking_json(await self.client.get_booking(booking_id)))

    async def cancel_booking(self, request: Request) -> Response:
        parse.query_params(request.scope["query_string"], NO_PARAMETERS)
        booking_id = parse.path_id(request.path_params["booking_id"], "booking_id")
        booking = await self.client.cancel_booking(booking_id)
        self.sold_out.forget(booking.event_id)
        return json_response(booking_json(booking))

    async def history(self, request: Request) -> Response:
        params = parse.query_params(request.scope["query_string"], HISTORY_PARAMETERS)
        status_name = params.get("status")
        if status_name is not None and status_name not in STATUS_VALUES:
            raise InvalidInput("status", f"must be confirmed or cancelled, got {status_name[:32]!r}")
        # An absent parameter is sent as 0, which the booking service reads
        # as its default page or size, or as no filter on the field.
        page = parse.query_integer(params, "page", default=0, minimum=1, maximum=rules.MAX_PAGE)
        size = parse.query_integer(params, "size", default=0, minimum=1, maximum=rules.MAX_PAGE_SIZE)
        user_id = parse.query_integer(params, "user_id", default=0, minimum=1, maximum=rules.INT64_MAX)
        event_id = parse.query_integer(params, "event_id", default=0, minimum=1, maximum=rules.INT64_MAX)
        reply = await self.client.list_bookings(
            page=page,
            size=size,
            status=STATUS_VALUES[status_name] if status_name else pb.BOOKING_STATUS_UNSPECIFIED,
            user_id=user_id,
            event_id=event_id,
        )
        return json_response({
            "data": [booking_json(b) for b in reply.bookings],
            "meta": {"total": reply.total, "page": reply.page, "size": reply.size},
        })

    async def liveness(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readiness(self, request: Request) -> Response:
        """Ready when the booking service reports SERVING (it tracks PostgreSQL)."""
        stub = health_pb2_grpc.HealthStub(self.client._channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.aio.AioRpcError as exc:
            return error_response(f"booking service unavailable: {exc.code().name}", 503)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return error_response("booking service not serving", 503)
        return json_response({"status": "ready"})

    async def openapi(self, request: Request) -> Response:
        return Response(OPENAPI_DOCUMENT, media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        """Serve this process's metrics, or with several workers the sums over all workers.

        python -m rest_shim sets PROMETHEUS_MULTIPROC_DIR before it starts
        several workers (rest_shim.__main__.prepare_metrics_dir).
        NOTE: workers started another way, without the variable, each serve
        only their own metrics.
        """
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if self.config.workers == 1 or not directory:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(config: ShimConfig | None = None) -> Starlette:
    config = config or ShimConfig.from_env()
    if not logging.getLogger().handlers:
        # A uvicorn worker process (REST_WORKERS > 1) is a new interpreter
        # that did not run rest_shim.__main__, so nothing configured logging.
        logs.configure(config.log_level, config.log_format)
    routes = Routes(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        routes.booking = BookingClient(config.booking_target, timeout=config.booking_timeout_ms / 1000)
        logger.info(
            "REST shim ready, booking service at %s, at most %d requests in flight, admin routes %s",
            config.booking_target, config.max_in_flight,
            "require a bearer token" if routes.admin.enabled else "open (REST_ADMIN_TOKEN is off)",
        )
        yield
        await routes.booking.close()
        logger.info("REST shim stopped")

    def route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, instrumented(name, handler), methods=methods)

    app = Starlette(
        routes=[
            route("/api/v1/events", "create_event", routes.create_event, ["POST"]),
            route("/api/v1/events/{event_id}", "get_event", routes.get_event, ["GET"]),
            route("/api/v1/book", "book", routes.book, ["POST"]),
            route("/api/v1/bookings/{booking_id}", "get_booking", routes.get_booking, ["GET"]),
            route("/api/v1/bookings/{booking_id}", "cancel_booking", routes.cancel_booking, ["DELETE"]),
            route("/api/v1/bookings/{booking_id}/cancel", "cancel_booking", routes.cancel_booking, ["POST"]),
            route("/api/v1/history", "history", routes.history, ["GET"]),
            route("/healthz", "liveness", routes.liveness, ["GET"]),
            route("/readyz", "readiness", routes.readiness, ["GET"]),
            route("/api/v1/health", "readiness", routes.readiness, ["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
            Route("/openapi.json", routes.openapi, methods=["GET"]),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                RequestLimits,
                max_in_flight=config.max_in_flight,
                max_body_bytes=config.max_body_bytes,
                exempt=UNLIMITED_PATHS,
            ),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    # Tests swap the booking client through this after the lifespan starts.
    app.state.routes = routes
    return app


async def http_error(request: Request, exc: Exception) -> Response:
    """Render Starlette's own errors (unknown path, wrong method) in the API's JSON shape."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.detail, exc.status_code, exc.headers)
