"""The one place where a step's errors become Dagster failures, and where it is decided which the run's
RetryPolicy may retry: bad input is the user's to fix, so never retried; of the rest, only what a service says
can pass with time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from endobench.lib.io.errors import InputError


@contextlib.contextmanager
def bad_input_fails_the_run(sources: object | None = None) -> Iterator[None]:
    """Turn an `InputError` raised inside the block into `dg.Failure(allow_retries=False)` with its message.

    The message names the file, the line or variant and what to do; retrying would only fail the same way. A
    damaged file that the full profile downloaded (`sources.download_dir`) is to be deleted, so that the next run
    downloads it again: the message says so instead of asking for a copy the user never made.
    """
    try:
        yield
    except InputError as exc:
        download_dir = getattr(sources, "download_dir", None)
        if exc.damaged and download_dir and exc.path is not None and \
                Path(exc.path).resolve().is_relative_to(Path(download_dir).resolve()):
            exc = exc.with_fix(f"Delete {exc.path}; the next run downloads it again")
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


@contextlib.contextmanager
def only_service_failures_retried() -> Iterator[None]:
    """Let a `dg.Failure` through as raised (a predictor marks a transient service failure, such as a server that
    could not be reached, with `allow_retries=True`, and a refused key or a wrong setting without); turn anything
    else into `dg.Failure(allow_retries=False)` naming it. A programming error (an AttributeError, a KeyError) fails
    the same way every time: retrying it only delays the report by the policy's minutes."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        raise dg.Failure(description=f"{type(exc).__name__}: {exc} (not retried: only a failure of the service is)",
                         allow_retries=False) from exc
