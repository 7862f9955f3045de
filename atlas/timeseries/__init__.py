"""Hourly per-unit profiles: one module per technology family.

``pv``        PV with pvlib (clear sky)
``seasonal``  CHP and run-of-river hydro as fifth-degree polynomials of the hour of the year,
              biomass/biogas baseload

Named apart from the top-level ``profiles/`` folder, which holds their data.
"""
