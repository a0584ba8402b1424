"""The one place where bad input becomes a Dagster failure: the user's to fix, so never retried."""

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
