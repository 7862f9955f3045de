"""Atomic file writers, safe file names from ids, checksums.

Every file is written to a temporary file in its destination folder and moved into place
with :func:`os.replace`, so a reader never sees half a file. (A run folder as a whole is
replaced by :class:`atlas.runfolder.Staging`.)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside ``dest``; on success move it onto ``dest``.

    On error the temporary file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
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
