"""Network-aware figures (METHOD.md, "Network-aware figures"): what an MV network allows.

:mod:`atlas.network.dispatch` solves, hour by hour and direction by direction, the largest
deviation of the PS exchange that the resources' capability sets and a power flow linearised
at the hour's operating point allow.
"""
