"""Errors from vmigd: one exception class per vmig.v1.StatusCode.

A call whose Response carries a status other than STATUS_OK raises the
class for that code (all are VmigError, with .code, .name, .message and
.response). Not reaching the daemon at all raises ConnectError, no answer
in time raises Timeout (both Unavailable).
"""


class VmigError(Exception):
    code = None
    name = "STATUS_UNKNOWN"

    def __init__(self, message, code=None, response=None):
        if code is not None:
            self.code = code
            self.name = NAMES.get(code, f"STATUS_{code}")
        self.message = message
        self.response = response
        super().__init__(f"{self.name}: {message}")


def _make(code, name, doc):
    cls = type("".join(w.capitalize() for w in name.split("_")[1:]),
               (VmigError,), {"code": code, "name": name, "__doc__": doc})
    return cls


# vmig.v1.StatusCode (proto/vmig.proto); test_foundation checks the two agree.
InvalidArgument = _make(1, "STATUS_INVALID_ARGUMENT", "malformed or out of range")
NotFound = _make(2, "STATUS_NOT_FOUND", "unknown device, job, backend")
AlreadyExists = _make(3, "STATUS_ALREADY_EXISTS", "already exists")
FailedPrecondition = _make(4, "STATUS_FAILED_PRECONDITION",
                           "wrong phase or device state")
ResourceExhausted = _make(5, "STATUS_RESOURCE_EXHAUSTED",
                          "over a limit (jobs, memory, message size)")
Unimplemented = _make(6, "STATUS_UNIMPLEMENTED", "call or option not implemented")
Internal = _make(7, "STATUS_INTERNAL", "a bug in vmigd")
Unavailable = _make(8, "STATUS_UNAVAILABLE", "backend or peer unreachable")
PermissionDenied = _make(9, "STATUS_PERMISSION_DENIED", "wrong token")
Aborted = _make(10, "STATUS_ABORTED", "the job ended first")
DeviceError = _make(11, "STATUS_DEVICE_ERROR", "the device failed a command")
BadRequest = _make(12, "STATUS_BAD_REQUEST", "the request did not decode")

BY_CODE = {c.code: c for c in (
    InvalidArgument, NotFound, AlreadyExists, FailedPrecondition,
    ResourceExhausted, Unimplemented, Internal, Unavailable,
    PermissionDenied, Aborted, DeviceError, BadRequest)}
NAMES = {0: "STATUS_OK", **{c: cls.name for c, cls in BY_CODE.items()}}


class ConnectError(Unavailable):
    """vmigd could not be reached (down, wrong URL, no permission)."""


class Timeout(Unavailable):
    """vmigd did not answer in time."""


class ProtocolError(Internal):
    """vmigd's answer did not decode or did not match the request."""


def error_for(code, message, response=None):
    cls = BY_CODE.get(code, VmigError)
    return cls(message, code=code, response=response)
