"""What a failed gRPC call means for a scoring run: retry it, slow down, record it, or stop the run.

Google's API front end does not always refuse a bad key with UNAUTHENTICATED: a wrong or revoked key comes back as
INVALID_ARGUMENT "API key not valid" with a `google.rpc.ErrorInfo` (reason API_KEY_INVALID) in the status details,
a disabled API or billing as PERMISSION_DENIED with SERVICE_DISABLED or BILLING_DISABLED. Those refuse every
request, not one variant, so they must stop the run and never be recorded against a variant. The details travel in
the `grpc-status-details-bin` trailer; `grpc_status.rpc_status` decodes them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import grpc
from google.api import error_reason_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class Kind(enum.Enum):
    REFUSED = "refused"  # the key, project, API or billing is refused: stop the run, record nothing
    QUOTA = "quota"  # RESOURCE_EXHAUSTED: slow down and ask again, never give up the variant for it
    TRANSIENT = "transient"  # the service hiccuped: ask again after a backoff, within a retry budget
    PERMANENT = "permanent"  # this request would fail the same way again: record it for the variant
    OTHER = "other"  # unknown: fail the variant for this run only


TRANSIENT_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
})
PERMANENT_CODES = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
})
REFUSAL_CODES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
# Every reason Google's front end gives about the caller (key, project, billing, credentials) refuses all requests;
# the quota reasons only ask to slow down.
_QUOTA_REASONS = {"RATE_LIMIT_EXCEEDED", "RESOURCE_QUOTA_EXCEEDED", "EMULATOR_QUOTA_EXCEEDED"}
REFUSAL_REASONS = frozenset(
    value.name for value in error_reason_pb2.ErrorReason.DESCRIPTOR.values
    if value.number != 0 and value.name not in _QUOTA_REASONS
)
# The same refusals when a server sends the message without details.
_REFUSAL_MESSAGE = re.compile(
    r"api[ _]key|has not been used in project|api (?:is |has been )?disabled|service_disabled|billing",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RpcFailure:
    """One failed call, classified. `code` is the status name (`INVALID_ARGUMENT`), `error_reason` the
    ErrorInfo reason if any, `retry_delay` the server's RetryInfo delay in seconds if any."""

    code: str
    kind: Kind
    message: str
    error_reason: str = ""
    retry_delay: float | None = None

    @property
    def reason(self) -> str:
        """The per-variant reason recorded in a row (`invalid_argument`, `unavailable`, ...)."""
        return self.code.lower()


def classify(error: grpc.RpcError) -> RpcFailure:
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    message = error.details() if callable(getattr(error, "details", None)) else ""
    message = " ".join(str(message or "").split())
    error_reason, retry_delay = _status_details(error)
    if code in REFUSAL_CODES or error_reason in REFUSAL_REASONS or error_reason.startswith("API_KEY_"):
        kind = Kind.REFUSED
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        kind = Kind.QUOTA
    elif code in TRANSIENT_CODES:
        kind = Kind.TRANSIENT
    elif _REFUSAL_MESSAGE.search(message):
        kind = Kind.REFUSED
    elif code in PERMANENT_CODES:
        kind = Kind.PERMANENT
    else:
        kind = Kind.OTHER
    return RpcFailure(code.name, kind, message, error_reason, retry_delay)


def _status_details(error: grpc.RpcError) -> tuple[str, float | None]:
    """The ErrorInfo reason and the RetryInfo delay from the call's rich status, if the server sent one."""
    if not callable(getattr(error, "trailing_metadata", None)):
        return "", None
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # a status whose code or message disagrees with the call's: ignore the details
        return "", None
    if status is None:
        return "", None
    reason, delay = "", None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = reason or info.reason
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToTimedelta().total_seconds()
    return reason, delay


class ServiceRefused(Exception):
    """The service refused the key or the project: no request can succeed, so the run stops."""

    def __init__(self, failure: RpcFailure, calls: int = 0, calls_after_refusal: int = 0) -> None:
        super().__init__(failure.message)
        self.failure, self.calls, self.calls_after_refusal = failure, calls, calls_after_refusal


class ServiceUnreachable(Exception):
    """The service could not be reached (or did not answer) within the preflight's time: nothing was sent."""
