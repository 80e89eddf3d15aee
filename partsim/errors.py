"""partsim's exceptions.

Every error partsim raises on purpose is a :class:`PartsimError`. The CLI prints its message
as one line and exits with its ``exit_code``: 2 for a bad argument (a usage error), 1 for bad
data. Anything else reaching the user is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BrokerError",
    "ClusterError",
    "DataError",
    "OutputError",
    "PartsimError",
    "UsageError",
    "closest",
    "error_reason",
    "invalid_choice",
    "missing_column",
]


class PartsimError(Exception):
    """Base class of the errors partsim raises on purpose."""

    exit_code = 1


class UsageError(PartsimError, ValueError):
    """An argument is invalid: the message names it, what is allowed and what was given."""

    exit_code = 2


class DataError(PartsimError, ValueError):
    """The input data cannot be used as asked (undecodable hex, an int out of range, ...)."""

    exit_code = 1


class BrokerError(PartsimError):
    """A Kafka cluster could not be read: unreachable, authentication refused, access denied."""

    exit_code = 1


class OutputError(PartsimError):
    """An output cannot be written: a directory this user cannot write to, a full disk."""

    exit_code = 1


class ClusterError(PartsimError):
    """A Dask cluster could not be used: the scheduler is unreachable or a worker failed."""

    exit_code = 1


def error_reason(exc: BaseException) -> str:
    """An exception's message, first line only, for a one-line error; else its type's name.

    >>> error_reason(OSError("disk full\\nmore detail")), error_reason(ValueError())
    ('disk full', 'ValueError')
    """
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def closest(given: str, choices: Iterable[str]) -> str | None:
    """The choice that looks most like ``given``, if any looks close enough."""
    choices = list(choices)
    lowered = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(given.lower(), list(lowered), n=1, cutoff=0.5)
    if match:
        return lowered[match[0]]
    # A bare suffix such as 'murmur3' for 'pulsar:murmur3'.
    for choice in choices:
        if choice.lower().endswith(":" + given.lower()) or given.lower() in choice.lower():
            return choice
    return None


def missing_column(
    option: str, column: str, available: Iterable[str], what: str = ""
) -> UsageError:
    """A :class:`UsageError` for a column the input lacks, listing the available ones and
    suggesting the closest."""
    available = list(available)
    message = (
        f"{option}: {what or f'column {column!r} not found'}; available columns: "
        f"{', '.join(available) or '(none)'}"
    )
    suggestion = closest(column, available)
    if suggestion is not None:
        message += f" (did you mean {suggestion!r}?)"
    return UsageError(message)


def invalid_choice(
    argument: str, given: object, choices: Iterable[str], *, aliases: Iterable[str] = ()
) -> UsageError:
    """A :class:`UsageError` for a value outside a fixed set, suggesting the closest name.

    ``aliases`` are accepted spellings that the message does not list but may suggest.
    """
    choices = list(choices)
    message = f"{argument} must be one of {', '.join(choices)}; got {given!r}"
    suggestion = closest(given, [*choices, *aliases]) if isinstance(given, str) else None
    if suggestion is not None:
        message += f" (did you mean {suggestion!r}?)"
    return UsageError(message)
