"""Random DER groups for the envelope tests (test_envelope_bound, test_envelope_yearly)."""

from atlas.engine.capability import DerSpec, default_parameters

PARAMS = default_parameters()
KINDS = ["pv", "chp", "biomass", "hydro", "ev_v2g", "ev_charge"]


def random_specs(rng, n_hours, kinds):
    """Random groups: profiles with zero hours, EV charging with idle hours.

    Ratings 0.1-30 MVA for the profile technologies (CEI 0-16 MV parameters), charging
    power 0-5 MW for EVs; about 20 % (profiles) and 30 % (EVs) of the hours are zero.
    """
    specs = []
    for kind in kinds:
        if kind in ("pv", "chp", "biomass", "hydro"):
            pu = rng.uniform(0, 1, n_hours)
            pu[rng.uniform(size=n_hours) < 0.2] = 0.0
            sn = float(rng.uniform(0.1, 30))
            specs.append(DerSpec(kind, kind, "box_disc", pu, sn, PARAMS[(kind, "MV")]))
        else:
            d = rng.uniform(0, 5, n_hours)
            d[rng.uniform(size=n_hours) < 0.3] = 0.0
            specs.append(DerSpec("ev", kind, kind, d))
    return specs
