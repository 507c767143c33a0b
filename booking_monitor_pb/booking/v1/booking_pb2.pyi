import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BookingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_STATUS_UNSPECIFIED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLED: _ClassVar[BookingStatus]

class BookOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOK_OUTCOME_UNSPECIFIED: _ClassVar[BookOutcome]
    BOOK_OUTCOME_CONFIRMED: _ClassVar[BookOutcome]
    BOOK_OUTCOME_SOLD_OUT: _ClassVar[BookOutcome]
    BOOK_OUTCOME_USER_LIMIT_REACHED: _ClassVar[BookOutcome]
BOOKING_STATUS_UNSPECIFIED: BookingStatus
BOOKING_STATUS_CONFIRMED: BookingStatus
BOOKING_STATUS_CANCELLED: BookingStatus
BOOK_OUTCOME_UNSPECIFIED: BookOutcome
BOOK_OUTCOME_CONFIRMED: BookOutcome
BOOK_OUTCOME_SOLD_OUT: BookOutcome
BOOK_OUTCOME_USER_LIMIT_REACHED: BookOutcome

class Event(_message.Message):
    __slots__ = ("id", "name", "total_tickets", "available_tickets", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TICKETS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_TICKETS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    total_tickets: int
    available_tickets: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., total_tickets: _Optional[int] = ..., available_tickets: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateEventRequest(_message.Message):
    __slots__ = ("name", "total_tickets", "idempotency_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TICKETS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    total_tickets: int
    idempotency_key: str
    def __init__(self, name: _Optional[str] = ..., total_tickets: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetEventRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    def __init__(self, event_id: _Optional[int] = ...) -> None: ...

class Booking(_message.Message):
    __slots__ = ("id", "event_id", "user_id", "quantity", "status", "reservation_id", "created_at", "cancelled_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    event_id: int
    user_id: int
    quantity: int
    status: BookingStatus
    reservation_id: str
    created_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., event_id: _Optional[int] = ..., user_id: _Optional[int] = ..., quantity: _Optional[int] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., reservation_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BookRequest(_message.Message):
    __slots__ = ("user_id", "event_id", "quantity", "idempotency_key")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    event_id: int
    quantity: int
    idempotency_key: str
    def __init__(self, user_id: _Optional[int] = ..., event_id: _Optional[int] = ..., quantity: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class BookResponse(_message.Message):
    __slots__ = ("outcome", "booking", "available_tickets")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_TICKETS_FIELD_NUMBER: _ClassVar[int]
    outcome: BookOutcome
    booking: Booking
    available_tickets: int
    def __init__(self, outcome: _Optional[_Union[BookOutcome, str]] = ..., booking: _Optional[_Union[Booking, _Mapping]] = ..., available_tickets: _Optional[int] = ...) -> None: ...

class CancelBookingRequest(_message.Message):
    __slots__ = ("booking_id",)
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    booking_id: int
    def __init__(self, booking_id: _Optional[int] = ...) -> None: ...

class GetBookingRequest(_message.Message):
    __slots__ = ("booking_id",)
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    booking_id: int
    def __init__(self, booking_id: _Optional[int] = ...) -> None: ...

class ListBookingsRequest(_message.Message):
    __slots__ = ("page", "size", "status", "user_id", "event_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    page: int
    size: int
    status: BookingStatus
    user_id: int
    event_id: int
    def __init__(self, page: _Optional[int] = ..., size: _Optional[int] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., user_id: _Optional[int] = ..., event_id: _Optional[int] = ...) -> None: ...

class ListBookingsResponse(_message.Message):
    __slots__ = ("bookings", "total", "page", "size")
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    total: int
    page: int
    size: int
    def __init__(self, bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., total: _Optional[int] = ..., page: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...
