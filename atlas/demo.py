"""Where the embedded demo study lives, installed or in a source checkout.

The wheel carries the top-level ``geodata/`` and ``profiles/`` folders under
``atlas/_data/`` (see pyproject.toml); a source checkout has them beside ``atlas/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_root(name: str) -> Path:
    """The folder ``geodata`` or ``profiles``, from the installed package or the checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the atlas data folder {name!r} is missing from this installation")


def demo_study_path() -> Path:
    """The embedded Milan demo study file (synthetic data, see geodata/demo_milan/README.md)."""
    return data_root("geodata") / "demo_milan" / "study.toml"
