"""The command lines the documentation quotes in its fenced code blocks, read as a reader would copy them.

A fenced block is a block of commands when its first line is one: after any `VAR=value` assignments, a program the
project ships (`make`, `.venv/bin/...`) or a tool the docs name (`export`, `docker`, `pg_dump`, `tar`). Its lines are
joined where they end in a backslash, and a comment after `#` is dropped. Blocks of output, YAML or diagrams are
not commands. A synopsis is expanded (`expansions`): each `{a,b}` once per choice, the `[--option value]` groups all
left out and all given.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass

from endobench_tests.paths import REPO

DOCUMENTS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")),
             "deploy/README.md"]
PROGRAMS = ("make", "export", "docker", "pg_dump", "tar", ".venv/bin/")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", flags=re.M | re.S)
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class DocumentedCommand:
    path: str  # the document, relative to the repository
    line: int  # where the command starts in it (1-based)
    words: tuple[str, ...]  # as a shell splits it, the comment dropped

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def environment(self) -> dict[str, str]:
        return dict(word.split("=", 1) for word in itertools.takewhile(ASSIGNMENT.match, self.words))

    @property
    def argv(self) -> list[str]:
        return list(self.words[len(self.environment):])

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _is_command(words: list[str]) -> bool:
    program = next((w for w in words if not ASSIGNMENT.match(w)), "")
    return any(program == p or (p.endswith("/") and program.startswith(p)) for p in PROGRAMS)


def documented_commands(documents: list[str] = DOCUMENTS) -> list[DocumentedCommand]:
    """Every command of every block of commands in `documents`, in order."""
    found = []
    for path in documents:
        text = (REPO / path).read_text()
        for block in FENCE.finditer(text):
            if block.group(1).strip() not in ("", "sh", "bash", "console"):
                continue
            first_line = text.count("\n", 0, block.start(2)) + 1
            lines = block.group(2).splitlines()
            if not lines or not _is_command(lines[0].split()):
                continue
            commands, pending, start = [], "", 0
            for number, line in enumerate(lines):
                if not pending:
                    start = number
                pending += line.rstrip()
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                    continue
                words = shlex.split(pending, comments=True)
                if words:
                    commands.append((first_line + start, words))
                pending = ""
            found += [DocumentedCommand(path, line, tuple(words)) for line, words in commands]
    return found


def expansions(words: list[str]) -> list[list[str]]:
    """A synopsis as the command lines it stands for: one per choice of each `{a,b,c}`, each with every
    `[--option value]` group left out and with every group given (brackets and braces removed)."""
    plain, optional, choices = [], [], []
    group: list[str] | None = None
    for word in words:
        if group is None and word.startswith("["):
            group = []
            optional.append((len(plain), group))
            word = word[1:]
        if group is not None:
            closing = word.endswith("]")
            group.append(word.rstrip("]"))
            if closing:
                group = None
            continue
        if re.fullmatch(r"\{[^{}]+\}", word):
            choices.append((len(plain), word[1:-1].split(",")))
            plain.append(word)
            continue
        plain.append(word)
    out = []
    for picked in itertools.product(*[options for _, options in choices]) if choices else [()]:
        base = list(plain)
        for (index, _), choice in zip(choices, picked, strict=True):
            base[index] = choice
        out.append(base)
        if optional:
            full = []
            for index, word in enumerate(base):
                full += [w for at, g in optional if at == index for w in g] + [word]
            full += [w for at, g in optional if at == len(base) for w in g]
            out.append(full)
    return out


def documented(prefix: str) -> DocumentedCommand:
    """The one documented command whose text (assignments included) starts with `prefix`."""
    matches = [c for c in documented_commands() if c.text.startswith(prefix)]
    assert len(matches) == 1, f"{len(matches)} documented commands start with {prefix!r}: {[str(c) for c in matches]}"
    return matches[0]
