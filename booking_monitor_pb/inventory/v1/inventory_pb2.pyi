from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReserveStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVE_STATUS_UNSPECIFIED: _ClassVar[ReserveStatus]
    RESERVE_STATUS_RESERVED: _ClassVar[ReserveStatus]
    RESERVE_STATUS_SOLD_OUT: _ClassVar[ReserveStatus]
    RESERVE_STATUS_STOCK_MISSING: _ClassVar[ReserveStatus]
    RESERVE_STATUS_RELEASED: _ClassVar[ReserveStatus]
    RESERVE_STATUS_CONFIRMED: _ClassVar[ReserveStatus]
    RESERVE_STATUS_CONFLICT: _ClassVar[ReserveStatus]

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_HELD: _ClassVar[HoldState]
    HOLD_STATE_CONFIRMED: _ClassVar[HoldState]
    HOLD_STATE_RELEASED: _ClassVar[HoldState]
    HOLD_STATE_UNKNOWN: _ClassVar[HoldState]
RESERVE_STATUS_UNSPECIFIED: ReserveStatus
RESERVE_STATUS_RESERVED: ReserveStatus
RESERVE_STATUS_SOLD_OUT: ReserveStatus
RESERVE_STATUS_STOCK_MISSING: ReserveStatus
RESERVE_STATUS_RELEASED: ReserveStatus
RESERVE_STATUS_CONFIRMED: ReserveStatus
RESERVE_STATUS_CONFLICT: ReserveStatus
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_HELD: HoldState
HOLD_STATE_CONFIRMED: HoldState
HOLD_STATE_RELEASED: HoldState
HOLD_STATE_UNKNOWN: HoldState

class InitStockRequest(_message.Message):
    __slots__ = ("event_id", "available", "total", "replace", "released_reservation_ids")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    RELEASED_RESERVATION_IDS_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    available: int
    total: int
    replace: bool
    released_reservation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[int] = ..., available: _Optional[int] = ..., total: _Optional[int] = ..., replace: _Optional[bool] = ..., released_reservation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class InitStockResponse(_message.Message):
    __slots__ = ("initialised", "stock")
    INITIALISED_FIELD_NUMBER: _ClassVar[int]
    STOCK_FIELD_NUMBER: _ClassVar[int]
    initialised: bool
    stock: Stock
    def __init__(self, initialised: _Optional[bool] = ..., stock: _Optional[_Union[Stock, _Mapping]] = ...) -> None: ...

class GetStockRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    def __init__(self, event_id: _Optional[int] = ...) -> None: ...

class GetStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: Stock
    def __init__(self, stock: _Optional[_Union[Stock, _Mapping]] = ...) -> None: ...

class Stock(_message.Message):
    __slots__ = ("event_id", "total", "available", "held")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    total: int
    available: int
    held: int
    def __init__(self, event_id: _Optional[int] = ..., total: _Optional[int] = ..., available: _Optional[int] = ..., held: _Optional[int] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("event_id", "reservation_id", "quantity", "user_id", "hold_ms", "request_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    reservation_id: str
    quantity: int
    user_id: int
    hold_ms: int
    request_id: str
    def __init__(self, event_id: _Optional[int] = ..., reservation_id: _Optional[str] = ..., quantity: _Optional[int] = ..., user_id: _Optional[int] = ..., hold_ms: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("status", "available", "hold_deadline_ms", "server_time_ms")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HOLD_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    status: ReserveStatus
    available: int
    hold_deadline_ms: int
    server_time_ms: int
    def __init__(self, status: _Optional[_Union[ReserveStatus, str]] = ..., available: _Optional[int] = ..., hold_deadline_ms: _Optional[int] = ..., server_time_ms: _Optional[int] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("event_id", "reservation_id", "quantity_if_unknown")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_IF_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    reservation_id: str
    quantity_if_unknown: int
    def __init__(self, event_id: _Optional[int] = ..., reservation_id: _Optional[str] = ..., quantity_if_unknown: _Optional[int] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released", "previous_state", "available")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    released: bool
    previous_state: HoldState
    available: int
    def __init__(self, released: _Optional[bool] = ..., previous_state: _Optional[_Union[HoldState, str]] = ..., available: _Optional[int] = ...) -> None: ...

class ConfirmRequest(_message.Message):
    __slots__ = ("event_id", "reservation_id", "request_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    reservation_id: str
    request_id: str
    def __init__(self, event_id: _Optional[int] = ..., reservation_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ConfirmResponse(_message.Message):
    __slots__ = ("confirmed", "previous_state")
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    confirmed: bool
    previous_state: HoldState
    def __init__(self, confirmed: _Optional[bool] = ..., previous_state: _Optional[_Union[HoldState, str]] = ...) -> None: ...

class ReserveBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReserveRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ReserveRequest, _Mapping]]] = ...) -> None: ...

class ReserveBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReserveResponse]
    def __init__(self, items: _Optional[_Iterable[_Union[ReserveResponse, _Mapping]]] = ...) -> None: ...

class ConfirmBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfirmRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ConfirmRequest, _Mapping]]] = ...) -> None: ...

class ConfirmBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfirmResponse]
    def __init__(self, items: _Optional[_Iterable[_Union[ConfirmResponse, _Mapping]]] = ...) -> None: ...

class ListExpiredHoldsRequest(_message.Message):
    __slots__ = ("event_id", "limit")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    limit: int
    def __init__(self, event_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("reservation_id", "quantity", "deadline_ms")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    quantity: int
    deadline_ms: int
    def __init__(self, reservation_id: _Optional[str] = ..., quantity: _Optional[int] = ..., deadline_ms: _Optional[int] = ...) -> None: ...

class ListExpiredHoldsResponse(_message.Message):
    __slots__ = ("holds",)
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    holds: _containers.RepeatedCompositeFieldContainer[Hold]
    def __init__(self, holds: _Optional[_Iterable[_Union[Hold, _Mapping]]] = ...) -> None: ...

class ExpireHoldsRequest(_message.Message):
    __slots__ = ("event_id", "reservation_ids")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_IDS_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    reservation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[int] = ..., reservation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExpireHoldsResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, released: _Optional[_Iterable[bool]] = ...) -> None: ...

class BeginRebuildRequest(_message.Message):
    __slots__ = ("event_id", "quiet_ms")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUIET_MS_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    quiet_ms: int
    def __init__(self, event_id: _Optional[int] = ..., quiet_ms: _Optional[int] = ...) -> None: ...

class BeginRebuildResponse(_message.Message):
    __slots__ = ("stock_exists", "wait_ms")
    STOCK_EXISTS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    stock_exists: bool
    wait_ms: int
    def __init__(self, stock_exists: _Optional[bool] = ..., wait_ms: _Optional[int] = ...) -> None: ...
