"""File names made from ids: safe, unique and stable (atlas.files.safe_names)."""

import hashlib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from atlas.files import safe_names


def test_plain_ids_keep_their_names():
    assert safe_names(["SUD", "PS07", "nord-1", "a_b"]) == {
        "SUD": "SUD",
        "PS07": "PS07",
        "nord-1": "nord-1",
        "a_b": "a_b",
    }


def test_hostile_ids_are_hashed_into_one_component():
    names = safe_names(["../../x", "a/b", "a\\b", ".", "..", "", "con", "x.csv"])
    for ps_id, name in names.items():
        digest = hashlib.sha256(ps_id.encode()).hexdigest()[:8]
        assert name.endswith("-" + digest)
        assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert names["../../x"] == "______x-" + hashlib.sha256(b"../../x").hexdigest()[:8]


def test_ids_differing_only_in_case_are_both_hashed():
    names = safe_names(["Sud", "SUD", "Nord"])
    assert names["Nord"] == "Nord"
    assert names["Sud"] != "Sud" and names["SUD"] != "SUD"
    assert names["Sud"].casefold() != names["SUD"].casefold()


@given(st.lists(st.text(min_size=0, max_size=80), max_size=30))
def test_any_ids_give_unique_names_inside_the_folder(ids):
    names = safe_names(ids)
    assert set(names) == set(ids)
    folded = [n.casefold() for n in names.values()]
    assert len(set(folded)) == len(folded)
    root = Path("/tmp/atlas-out").resolve()
    for name in names.values():
        assert 0 < len(name) <= 64
        assert (root / name).resolve().parent == root
