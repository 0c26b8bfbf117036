"""One error hierarchy for all of darse.

Every layer raises these; the API maps them to HTTP status codes and the CLIs to
messages and exit codes, each in one place (as containerd's errdefs do).
"""

from __future__ import annotations


class DarseError(Exception):
    """Root of every error darse raises on purpose."""


class NotFound(DarseError):
    """The named object does not exist."""


class AlreadyExists(DarseError):
    """An object with that name or id exists already."""


class Conflict(DarseError):
    """The object is in a state that forbids the operation."""


class InvalidArgument(DarseError):
    """The input is malformed or names something unsupported."""


class NotImplementedYet(DarseError):
    """darse does not do this (yet)."""


class Unavailable(DarseError):
    """A resource the operation needs (kernel facility, service) is missing."""


class SystemFailure(DarseError):
    """A system call or helper failed for a reason outside the input."""


class Cancelled(DarseError):
    """The client went away: the work done for it stops."""
