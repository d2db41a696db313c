"""Errors that name the file, source or parameter at fault and say what to fix.

Each also subclasses the builtin it replaced, so callers that catch ``ValueError`` or
``FileNotFoundError`` keep working.
"""


class AvatarTypeError(Exception):
    """Base class for errors the pipeline reports to users without a traceback."""


class SourceError(AvatarTypeError, ValueError):
    """A source in sources.yaml is misconfigured or could not be materialised."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"source {source!r}: {message}")
        self.source = source


class ParamsError(AvatarTypeError, ValueError):
    """A parameter in params.yaml is missing or invalid."""


class InputError(AvatarTypeError, ValueError):
    """An input file is unreadable or inconsistent with the others (stale or mismatched)."""


class MissingInputError(AvatarTypeError, FileNotFoundError):
    """An input file an earlier stage should have written is missing."""


class DeviceError(AvatarTypeError):
    """A requested device is not a device name, or is not there (no CUDA)."""


class UnsafeArchiveError(AvatarTypeError):
    """An archive member would escape the target, is a link, or decompresses too far."""


class WeightsError(AvatarTypeError):
    """Model weights are unknown, missing, unreachable or fail their sha256 check."""
