"""The flexibility atlas: P-Q flexibility of distributed energy resources at each HV/MV
primary substation, hour by hour, following Bosisio et al. (Milan case study).

The pipeline, one module per stage::

    study       the study file: schema, validation, resolved paths
    inputs      readers of the tabular inputs (substations, capacity, load, profiles, EV)
    geodata     vector layers in any CRS, geometry checks, the metric CRS
    areas       service areas (given or clipped Voronoi) and the assignment of points
    register    the DER register -> capacity per PS, technology, level, scenario; growth
    geojoin     the geodata stage of a study (areas + register joined)
    timeaxis    the 8760-hour UTC axis of a study year
    timeseries  per-unit profiles: pv (pvlib), seasonal (CHP, hydro, biomass), ev (shapes)
    capability  per-technology P-Q capability sets (grid-code parameter table)
    envelope    aggregation at the PS: four figures, Minkowski polygons, yearly hull
    pipeline    one study, end to end (the API behind ``atlas run``)
    figures     matplotlib figures
    outputs     atomic writers and the run manifest
    cli         the ``atlas`` command
"""

from importlib.metadata import PackageNotFoundError, version

from atlas.errors import AtlasInputError

try:
    __version__ = version("flexibility-atlas")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["AtlasInputError", "__version__"]
