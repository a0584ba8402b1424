"""The one place where bad input becomes a Dagster failure: the user's to fix, so never retried."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from endobench.lib.io.errors import InputError


@contextlib.contextmanager
def bad_input_fails_the_run() -> Iterator[None]:
    """Turn an `InputError` raised inside the block into `dg.Failure(allow_retries=False)` with its message.

    The message names the file, the line or variant and what to do; retrying would only fail the same way.
    """
    try:
        yield
    except InputError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
