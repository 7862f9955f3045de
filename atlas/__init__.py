"""The flexibility atlas: P-Q flexibility of distributed energy resources at each HV/MV
primary substation, hour by hour, following Bosisio et al. (Milan case study).

The package is laid out by stage, data flowing one way (docs/architecture.md)::

    inputs      the study file (schema, validation, paths), tabular readers, the time axis
    geo         vector layers, service areas, the DER register and its join to the areas
    timeseries  per-unit profiles: pv (pvlib), seasonal (CHP, hydro, biomass), ev (shapes)
    engine      capability sets (grid codes), envelopes and figures, the computation per PS
    analysis    statistics and the relief screening
    present     figures, the report page and the interactive map
    runfolder   the Run object and the run folder that holds it
    pipeline    orchestration: run_study, screen_run, save_run
    cli         the ``atlas`` command

>>> import atlas
>>> run = atlas.run_study("study.toml", out="outputs")  # doctest: +SKIP
>>> atlas.Run.load("outputs").screening.head()  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from atlas.errors import AtlasInputError

try:
    __version__ = version("flexibility-atlas")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

#: The public API, imported on first use (``import atlas`` stays light for the CLI).
_LAZY = {
    "Run": "atlas.runfolder",
    "load_inputs": "atlas.pipeline",
    "run_study": "atlas.pipeline",
    "save_run": "atlas.pipeline",
    "screen_run": "atlas.pipeline",
    "init_study": "atlas.inputs.starter",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'atlas' has no attribute {name!r}")


__all__ = ["AtlasInputError", "__version__", *_LAZY]
