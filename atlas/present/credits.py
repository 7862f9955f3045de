"""The data sources a run credits, from its manifest: for the report and the map."""

from __future__ import annotations

#: Words that mark a clause of the study's description as a data credit.
CREDIT_WORDS = (
    "istat",
    "openpolis",
    "openstreetmap",
    "comune di",
    "terna",
    "pvgis",
    "copernicus",
    "eurostat",
    "cc by",
    "cc-by",
    "odbl",
    "©",
    "(c)",
    "licence",
    "license",
)


def data_credits(manifest: dict) -> list[str]:
    """The data sources a run must credit, plain text, from its manifest (``run.json``).

    The clauses of the study's description (split at ``;``) that name a data source
    (:data:`CREDIT_WORDS`), and PVGIS when the PV profiles came from PVGIS data: the
    ``pvgis`` source, or the shipped PVGIS TMY (``tmy``, and ``clearsky`` whose turbidity
    and temperature it calibrates) when no other file is given.
    """
    import re

    from atlas.timeseries.pv import PVGIS_ATTRIBUTION

    study = manifest.get("study", {}) or {}
    description = str(study.get("description", "") or "")
    credits = []
    for clause in re.split(r";\s*|\.\s+(?=[A-Z])", description):
        text = clause.strip().rstrip(".")
        if text and any(w in text.lower() for w in CREDIT_WORDS):
            credits.append(text[0].upper() + text[1:])
    pv = (manifest.get("settings", {}) or {}).get("profiles", {}).get("pv", {}) or {}
    source = pv.get("source")
    shipped_tmy = source in ("tmy", "clearsky") and not pv.get("file")
    if (source == "pvgis" or shipped_tmy) and not any("pvgis" in c.lower() for c in credits):
        credits.append(PVGIS_ATTRIBUTION)
    return credits
