"""Errors raised on bad input: each names the file, the line or variant, and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

QUOTE_LIMIT = 200  # characters of a bad line or value an error message shows
_PROBLEM_LIMIT = 800  # a problem text longer than this (a quoted header, a parser's message) is cut


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`value` as a quoted string of at most `limit` characters, saying how much was left out."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text) - limit:,} more characters)"


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
        damaged: bool = False,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.damaged = damaged  # the file itself is cut short or corrupt (not its content wrong)
        self.line = line
        self.variant = variant
        if len(problem) > _PROBLEM_LIMIT:
            problem = f"{problem[:_PROBLEM_LIMIT]}... ({len(problem) - _PROBLEM_LIMIT:,} more characters)"
        self.problem = problem
        self.fix = fix
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line:,}"
        if variant is not None:
            where += f", variant {variant}"
        super().__init__(f"{where}: {problem}. {fix}")

    def with_fix(self, fix: str) -> InputError:
        """The same error with another instruction (e.g. "delete it, the next run downloads it again")."""
        return type(self)(self.path, self.problem, fix, line=self.line, variant=self.variant, damaged=self.damaged)


class BuildMismatchError(InputError):
    """Two inputs are on different genome builds and no chain file was given to lift one over."""


def replace_damaged(path: Path | str) -> str:
    """What to do about a damaged or incomplete copy. Whoever knows that the file is a download (the data sources)
    replaces this with `InputError.with_fix`, so no one is told to download a file they made themselves."""
    return f"Replace {Path(path).name} with a complete, undamaged copy"


def refuse_link_loop(path: Path | str, what: str) -> None:
    """A symbolic link that leads back to itself is named as a loop (the system says only "too many levels of
    symbolic links", and a path check says it does not exist)."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(path, f"the {what} is a symbolic link loop (following it leads back to itself)",
                             "Remove the link or point it at a real file or folder") from None
