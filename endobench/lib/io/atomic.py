"""Write outputs so that a crash, a full disk or a permission error never leaves a file a later run would trust."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from endobench.lib.io.errors import InputError, refuse_link_loop

# Errors that mean "the disk or the folder refused the write": said plainly, with what to do.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS}


def _read_umask() -> int:
    """The process umask, read once: setting it to query it is not safe while other threads create files."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    On any failure (an exception in the block, a full disk, a refused rename) the temporary file is removed and
    `path` is left as it was: absent, or the complete previous version. A process killed mid-write can leave a
    hidden `.<name>.*.partial` file, which nothing reads.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as exc:
        _explain(exc, path)
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the output the permissions a normal file would get.
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as exc:
        _explain(exc, path)
        raise
    finally:
        tmp.unlink(missing_ok=True)


UNFINISHED = "UNFINISHED.txt"


@contextlib.contextmanager
def replaced_folder(path: Path) -> Iterator[Path]:
    """Yield a new folder beside `path` to write into; when the block succeeds it replaces `path` as a whole.

    The new folder is hidden (`.<name>.*.partial`) and holds `UNFINISHED.txt` until it is complete; it is then
    exchanged with `path` in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two renames), and the
    previous folder is deleted. So whenever the process is killed, `path` is the previous complete folder or the new
    complete one, never a mix (no plot of an earlier run beside the new report), and a leftover hidden folder says
    it is unfinished. On failure the new folder is removed and `path` is left as it was. Leftovers of runs that are
    no longer alive are removed first.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    except OSError as exc:
        _explain(exc, path)
        raise
    try:
        _mark_unfinished(tmp)
        yield tmp
        (tmp / UNFINISHED).unlink()
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700
        if not path.exists():
            os.rename(tmp, path)
        elif _exchange(tmp, path):
            _mark_unfinished(tmp)  # the previous folder, now here: said so while it is being deleted
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
            os.rename(path, old / path.name)
            os.rename(tmp, path)
            tmp = old
    except OSError as exc:
        _explain(exc, path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _mark_unfinished(folder: Path) -> None:
    (folder / UNFINISHED).write_text(
        f"This folder is unfinished: endobench (process {os.getpid()}) was writing it, or deleting an earlier "
        "version, and did not get to the end. Nothing in it is a complete result: delete it and run again.\n")


def _remove_abandoned(path: Path) -> None:
    """Hidden unfinished folders beside `path` whose writing process is gone."""
    for folder in path.parent.glob(f".{path.name}.*.partial"):
        marker = folder / UNFINISHED
        try:
            pid = int(marker.read_text().split("(process ", 1)[1].split(")", 1)[0])
        except (OSError, IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 with RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # no such call, or a file system without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def _explain(exc: OSError, path: Path) -> None:
    if exc.errno in _STORAGE_ERRNOS and hasattr(exc, "add_note"):
        exc.add_note(
            f"Nothing was written to {path} (no partial file is left). Free disk space or make "
            f"{path.parent} writable, then re-run: finished assets and partitions are not redone."
        )


def write_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> Path:
    """A pandas frame as pandas writes it, or an Arrow table as it is: dictionary-encoded text stays codes.

    An Arrow table's dictionaries go to the file as its dictionary pages, in one row group (a dictionary page per
    row group would repeat a million GTEx ids), uncompressed, with statistics only for the columns that are not
    text: string statistics and compression cost more than half of the write at 2.4 M rows and serve no reader.
    A column whose values hardly repeat (GTEx's 968 K variant ids in 2.4 M rows) is written as plain text, which
    takes half the time of building its dictionary page again (`bench/ingest.py`: 0.3 s against 0.55 s for the
    whole table); text written either way reads back the same.
    """
    with atomic_path(path) as tmp:
        if isinstance(frame, pa.Table):
            text = [f.name for f in frame.schema if pa.types.is_dictionary(f.type)]
            repeated = [c for c in text if _dictionary_length(frame.column(c)) * 4 <= frame.num_rows]
            pq.write_table(frame, tmp, compression="none", use_dictionary=repeated or False,
                           dictionary_pagesize_limit=2**30,
                           row_group_size=max(frame.num_rows, 1),
                           write_statistics=[c for c in frame.column_names if c not in text])
        else:
            frame.to_parquet(tmp, index=False)
    return Path(path)


def _dictionary_length(column: pa.ChunkedArray) -> int:
    """Distinct values a dictionary-encoded column holds: its largest chunk dictionary."""
    return max((len(chunk.dictionary) for chunk in column.chunks), default=0)


def write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(data: bytes, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# The formats an output table can be written in, by the extension of its name.
TABLE_FORMATS = {".parquet": "parquet", ".tsv": "\t", ".csv": ","}


def table_format(path: Path) -> str:
    """The format an output table is written in, named by its extension; any other name is refused."""
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in TABLE_FORMATS:
        raise InputError(path, f"the output name ends in {extension or 'no extension'!s}, which names no table format",
                         "End the name in .parquet, .tsv or .csv: the file is written in the format its name says")
    return TABLE_FORMATS[extension]


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """A table in the format its name says (`table_format`): parquet, tab- or comma-separated text."""
    kind = table_format(path)
    if kind == "parquet":
        return write_parquet(frame, path)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep=kind, index=False)
    return Path(path)


def check_output_dir(path: Path, *, inputs: Iterable[Path | None] = (), what: str = "output folder",
                     replaced_with: Collection[str] | None = None) -> Path:
    """Refuse, before any work, an output folder that is a file, holds one of the `inputs`, or lies where nothing
    can be written. A folder that will be replaced as a whole (`replaced_folder`) by one holding `replaced_with`
    must hold nothing else: anything else in it would be lost."""
    path = Path(path)
    refuse_link_loop(path, what)
    if path.exists() and not path.is_dir():
        raise InputError(path, f"the {what} is an existing file", "Name a folder (it is created if missing)")
    for given in _existing(inputs):
        if _within(given, path):
            raise InputError(path, f"the {what} holds the input {given}, which writing the output would delete or "
                             "replace", "Choose an output folder that holds none of the inputs")
    if replaced_with is not None and path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in replaced_with)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5:,} more" if len(foreign) > 5 else "")
            raise InputError(path, f"the {what} holds {shown}, which this command does not write; the folder is "
                             "replaced as a whole, so they would be lost", "Choose a new or empty folder")
    _check_writable(path if path.exists() else path.parent, path)
    return path


def check_output_file(path: Path, *, inputs: Iterable[Path | None] = (), table: bool = False) -> Path:
    """Refuse, before any work, an output file that is a folder, is one of the `inputs` (by name, hard link or
    symbolic link), is named for no format (`table`: by `table_format`) or lies where nothing can be written."""
    path = Path(path)
    refuse_link_loop(path, "output file")
    if path.is_dir():
        raise InputError(path, "the output file is an existing folder", f"Name a file, e.g. {path / 'out.tsv'}")
    for given in _existing(inputs):
        if path.exists() and os.path.samefile(path, given):
            how = "" if os.path.abspath(path) == os.path.abspath(given) else " (through a hard or symbolic link)"
            raise InputError(path, f"the output is the input {given}{how}: writing it would replace the input",
                             "Name another output file")
    if table:
        table_format(path)
    _check_writable(path.parent, path)
    return path


def _existing(paths: Iterable[Path | None]) -> list[Path]:
    return [Path(p) for p in paths if p is not None and Path(p).exists()]


def _within(path: Path, folder: Path) -> bool:
    """Is `path` the folder itself or inside it, once links are followed?"""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def _check_writable(folder: Path, path: Path) -> None:
    """The nearest existing folder of `folder` must be a folder this process can create files in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(path, f"{existing} is a file, so nothing can be written below it",
                         "Choose an output path whose folders are folders")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InputError(path, f"nothing can be written in {existing} ({exc.strerror or exc})",
                         "Choose an output path you can write to, or fix the folder's permissions") from exc
