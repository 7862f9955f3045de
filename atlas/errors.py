"""The one exception type for user errors (a study file or an input file that is wrong)."""

from __future__ import annotations

from os import PathLike


class AtlasInputError(ValueError):
    """A problem with the user's study file or input data.

    The message reads ``path[:line]: key or row: what is wrong, what is expected``, the form
    the command line prints on one line before exiting with code 2.

    Parameters
    ----------
    path : str or path-like or None
        The file at fault (None when the problem is not tied to a file).
    where : str
        The key (``inputs.load``) or the row (``row 12``, ``ps_id=PS01``) at fault.
    problem : str
        What is wrong and what is expected.
    line : int, optional
        1-based line of the file, where it can be known.
    """

    def __init__(
        self,
        path: str | PathLike | None,
        where: str,
        problem: str,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.where = where
        self.problem = problem
        self.line = line
        super().__init__(self.one_line())

    def __reduce__(self):
        # raised in a worker process, it crosses back pickled: rebuilt from its parts (the
        # default would call the class with the one-line message alone)
        return (type(self), (self.path, self.where, self.problem, self.line))

    def one_line(self) -> str:
        """The message on a single line: ``path[:line]: where: problem`` (without a file,
        ``where: problem``, e.g. a command-line option; ``<study>: problem`` if neither)."""
        loc = self.path
        if loc is not None and self.line is not None:
            loc = f"{loc}:{self.line}"
        parts = [p for p in (loc, self.where) if p] or ["<study>"]
        text = ": ".join([*parts, self.problem])
        return " ".join(text.split())
