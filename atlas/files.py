"""Atomic file writers, safe file names from ids, checksums, errors of a folder that cannot
be written.

Every file is written to a temporary file in its destination folder and moved into place
with :func:`os.replace`, so a reader never sees half a file. (A run folder as a whole is
replaced by :class:`atlas.runfolder.Staging`.)
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from atlas.errors import AtlasInputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

#: Environment variable naming a point where an atlas process kills itself with SIGKILL, for
#: the tests of interrupted runs: ``staged``, ``computed``, ``written``, ``swap`` (between
#: the swap's two renames) or ``swapped`` (before the old run is removed), in
#: :mod:`atlas.runfolder`; ``tmp`` (a file written beside its place, not yet moved there).
FAULT_VARIABLE = "ATLAS_FAULT"


def fault_point(name: str) -> None:
    """Kill this process here if :data:`FAULT_VARIABLE` names ``name`` (tests only)."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


#: A temporary file of :func:`atomic_path`: ``.{name}.{pid of its writer}.{8 random}.tmp``.
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")
#: The folders this process has swept of stale temporary files.
_SWEPT: set[Path] = set()


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that a killed atlas process left in ``folder``.

    A file being written is ``.{name}.{pid}.{random}.tmp`` beside its place
    (:func:`atomic_path`); one whose writer no longer exists was left by a process that
    was killed before it could move or remove it. Only those are removed: the files of a
    command writing into the same folder at the same time are kept, and so is every file
    not named that way. The first write of a process into a folder calls this, so a killed
    command's leftovers go with the next command that writes there.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # gone already, or not ours to remove: left as it is
            pass
    return removed


@contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside ``dest``; on success move it onto ``dest``.

    On error the temporary file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.parent.absolute() not in _SWEPT:
        remove_stale_temporaries(dest.parent)
        _SWEPT.add(dest.parent.absolute())
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.name}.{os.getpid()}.", suffix=".tmp", dir=dest.parent
    )
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        fault_point("tmp")  # the file written, not yet in place
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(dest: Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``dest`` atomically.

    Whatever ``writer`` returns (``Path.write_text`` returns a count, a plot function a path)
    is ignored.
    """
    with atomic_path(dest) as tmp:
        writer(tmp)
    return Path(dest)


def write_text_atomic(dest: Path, text: str) -> Path:
    return write_atomic(dest, lambda p: p.write_text(text, encoding="utf-8"))


#: The errors of a write that the user can fix, in the atlas's words, by ``errno``.
WRITE_ERRORS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "a file too large for the file system",
    errno.EIO: "input/output error on the device",
}

#: Of :data:`WRITE_ERRORS`, those that more space would fix.
_SPACE_ERRORS = frozenset([errno.ENOSPC, errno.EDQUOT, errno.EFBIG])


def error_path(exc: OSError) -> Path | None:
    """The path an OSError names, absolute (None if it names none)."""
    name = exc.filename
    if not isinstance(name, str | bytes | os.PathLike):
        return None
    return Path(os.fsdecode(name)).absolute()


def folder_error(
    folder: str | os.PathLike,
    exc: OSError,
    what: str,
    shown: Path | None = None,
    note: str = "",
    named_by: str = "--out",
) -> AtlasInputError:
    """The user error for ``exc``, raised while writing into ``folder``.

    Parameters
    ----------
    folder : path
        The folder the user named (``--out``).
    exc : OSError
        The error, e.g. ``OSError(errno.ENOSPC, ...)``.
    what : str
        What could not be done, e.g. ``"write the run folder"``.
    shown : pathlib.Path, optional
        The path to name in the message instead of the one ``exc`` names (None: that one,
        unless it is ``folder`` itself).
    note : str
        Appended to the message, e.g. ``"the folder is left as it was"``.
    named_by : str
        How the user named the folder, for "choose another ...": ``"--out"``, or
        ``"folder"`` for a command's argument (``atlas init FOLDER``).

    Returns
    -------
    AtlasInputError
        ``folder: cannot WHAT (REASON: PATH), expected ...``.
    """
    reason = WRITE_ERRORS.get(exc.errno or 0) or exc.strerror or str(exc)
    path = shown if shown is not None else error_path(exc)
    if path is not None and path != Path(folder).absolute():
        reason = f"{reason}: {path}"
    if exc.errno in _SPACE_ERRORS:
        expected = f"free space on its device (free some, or choose another {named_by})"
    else:
        expected = f"a folder you may write to (or choose another {named_by})"
    return AtlasInputError(
        folder, "", f"cannot {what} ({reason}), expected {expected}" + (f"; {note}" if note else "")
    )


def check_writable(folder: str | os.PathLike) -> None:
    """Raise if files cannot be made in ``folder``, or ``folder`` cannot be made.

    Checks the folder if it exists, else the nearest folder above it that exists (where it
    would be made), with :func:`os.access`: quick, before any work; a write can still fail
    later (a full disk), and the superuser passes.

    Raises
    ------
    OSError
        ``NotADirectoryError`` (a file is in the way) or ``PermissionError``, naming the path.
    """
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(path))
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "permission denied", str(path))


#: Characters kept as they are in a file or folder name made from an id.
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
#: Names Windows reserves whatever the extension.
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)


def safe_names(ids) -> dict[str, str]:
    """A file-system-safe, unique name for each id (a PS id, say), stable across runs.

    An id made only of ASCII letters, digits, ``-`` and ``_`` (at most 64 characters, not a
    reserved device name) keeps its name. Any other id gets its safe characters (others
    become ``_``) followed by ``-`` and eight hex digits of its SHA-256, so ``../../x`` or
    ``a/b`` never name a path outside the folder and two ids never share a name, even on a
    case-insensitive file system (ids differing only in case are both hashed).

    Parameters
    ----------
    ids : iterable of str

    Returns
    -------
    dict
        ``{id: name}``.
    """
    ids = list(dict.fromkeys(str(i) for i in ids))
    folded: dict[str, int] = {}
    for i in ids:
        folded[i.casefold()] = folded.get(i.casefold(), 0) + 1

    def plain(i: str) -> bool:
        return (
            0 < len(i) <= 64
            and set(i) <= _SAFE_CHARS
            and i.casefold() not in _RESERVED
            and folded[i.casefold()] == 1
        )

    out: dict[str, str] = {}
    for i in ids:
        if plain(i):
            out[i] = i
        else:
            stem = "".join(c if c in _SAFE_CHARS else "_" for c in i)[:48] or "id"
            out[i] = f"{stem}-{hashlib.sha256(i.encode('utf-8')).hexdigest()[:8]}"
    taken: dict[str, str] = {}
    for i, name in out.items():
        key = name.casefold()
        if key in taken:  # a plain id that looks like another's hashed name
            raise ValueError(f"ids {taken[key]!r} and {i!r} map to the same file name {name!r}")
        taken[key] = i
    return out


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
