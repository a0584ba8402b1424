"""Errors raised on bad input: each names the file, the line or variant, and what to do."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A problem with an input file that the user has to fix.

    The message always starts with the file (and line or variant when known) and ends with what to do,
    so that the Dagster UI and the command line show something actionable instead of a traceback.
    """

    def __init__(
        self,
        path: Path | str | None,
        problem: str,
        fix: str,
        *,
        line: int | None = None,
        variant: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.variant = variant
        self.problem = problem
        self.fix = fix
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line:,}"
        if variant is not None:
            where += f", variant {variant}"
        super().__init__(f"{where}: {problem}. {fix}")


class BuildMismatchError(InputError):
    """Two inputs are on different genome builds and no chain file was given to lift one over."""
