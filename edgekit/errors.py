"""The exceptions edgekit raises.

Every error edgekit raises on purpose is an :class:`EdgekitError`. Errors from
third-party libraries are translated at the backend boundary (``raise ... from
exc``), so a host application needs one ``except EdgekitError`` to stay up.

The tree::

    EdgekitError
    ├── BackendUnavailableError      an optional dependency or runtime is missing (also ImportError)
    ├── InvalidInputError            a caller passed something wrong (also ValueError)
    ├── CorruptDataError             bytes read from disk or network do not decode (also ValueError)
    ├── QueueError                   the store-and-forward queue cannot do what was asked
    │   └── QueueFullError           the queue is at ``max_bytes`` and eviction is "reject"
    ├── InferenceError               a model failed to run
    │   └── ModelLoadError           a model file could not be loaded
    ├── ScanError                    a scanner could not start or run
    ├── StateError                   the replicated state store cannot do what was asked
    ├── ResourceLimitError           refused: a resource guard's limit (memory, storage, CPU) is exceeded
    └── TransportError               a sync transport could not connect or deliver
        └── TransportConfigError     the server answers but is set up so nothing can be delivered

and the warnings it gives (``warnings.warn``; shown every time unless the host filters them)::

    EdgekitWarning (UserWarning)
    └── ScanWarning                  a scan found nothing (the message says what to try)
"""

from __future__ import annotations

import warnings

__all__ = [
    "BackendUnavailableError",
    "CorruptDataError",
    "EdgekitError",
    "EdgekitWarning",
    "InferenceError",
    "InvalidInputError",
    "ModelLoadError",
    "QueueError",
    "QueueFullError",
    "ResourceLimitError",
    "ScanError",
    "ScanWarning",
    "StateError",
    "TransportConfigError",
    "TransportError",
]


class EdgekitError(Exception):
    """Root of every error edgekit raises on purpose."""


class BackendUnavailableError(EdgekitError, ImportError):
    """An optional dependency, runtime or platform facility is not available.

    ``extra`` names the pip extra that provides it (``pip install "edgekit[extra]"``),
    or is ``None`` when no extra can help (for example, no Bluetooth adapter).
    """

    def __init__(self, what: str, *, extra: str | None = None, reason: str | None = None) -> None:
        self.what = what
        self.extra = extra
        self.reason = reason
        message = f"{what} is not available"
        if reason:
            message += f": {reason}"
        if extra:
            message += f'; install it with: pip install "edgekit[{extra}]"'
        super().__init__(message)
        # ImportError keeps its own ``msg`` and ``name`` attributes.
        self.msg = message
        self.name = what

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_backend_error, (self.what, self.extra, self.reason))

    def __str__(self) -> str:
        return self.msg


def _rebuild_backend_error(
    what: str, extra: str | None, reason: str | None
) -> BackendUnavailableError:
    return BackendUnavailableError(what, extra=extra, reason=reason)


class InvalidInputError(EdgekitError, ValueError):
    """A caller passed an argument of the wrong type, dtype, shape, range or state."""


class CorruptDataError(EdgekitError, ValueError):
    """Bytes read from disk or the network are truncated, corrupted or hostile."""


class QueueError(EdgekitError):
    """The store-and-forward queue cannot do what was asked."""


class QueueFullError(QueueError):
    """The queue reached ``max_bytes`` and its eviction policy is ``"reject"``."""


class InferenceError(EdgekitError):
    """A model failed to run."""


class ModelLoadError(InferenceError):
    """A model file could not be loaded: not a model, truncated, or an unsupported op."""


class ScanError(EdgekitError):
    """A scanner could not start or run."""


class StateError(EdgekitError):
    """The replicated state store cannot do what was asked (closed, locked, corrupt, too large)."""


class ResourceLimitError(EdgekitError):
    """Refused because a resource guard's limit (memory, storage or CPU) is exceeded."""


class TransportError(EdgekitError):
    """A sync transport could not connect or deliver."""


class TransportConfigError(TransportError):
    """The server answers, but is set up so that nothing can be delivered (no JetStream
    stream takes the subjects, or they overlap another stream's): retrying does not help
    until that changes, so ``sync_now`` raises it at once (the background loop retries)."""


class EdgekitWarning(UserWarning):
    """Root of every warning edgekit gives: something worked, but not as the caller likely hoped."""


class ScanWarning(EdgekitWarning):
    """A scan found nothing; the message says whether its answers had settled and what to try."""


# Shown every time (not once per call site, Python's default), so that a notebook cell
# run again still says so; a filter the host adds first (``ignore``) still wins.
warnings.filterwarnings("always", category=EdgekitWarning, append=True)
