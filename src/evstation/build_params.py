"""What a dataset is built from: the settings `build-dataset` reads, by dotted key.

One declaration serves three readers: the build_dataset stage of both front ends depends on exactly
these keys (workflow/stages.py takes them from here), each build records their values beside its
splits (dataset.PARAMETERS_FILE), and every command that reads a dataset refuses one built from
other values than its params hold (dataset.check_built_from). The files a scenario names enter
through their names here and, in the front ends, as the build's own dependencies.
"""

from __future__ import annotations

import json

from .config import dotted_value

# The energy prices and emission factor are written into the dataset; the demand charges and the CO2 of
# displaced gasoline are read only where a run is measured.
GRID_KEYS = (
    "tariff.peak_pen_per_kwh",
    "tariff.offpeak_pen_per_kwh",
    "tariff.peak_start_hour",
    "tariff.peak_end_hour",
    "tariff.energy_price_files",
    "emissions.grid_kg_per_kwh",
    "emissions.grid_factor_files",
)
BUILD_KEYS = (
    "simulation.horizon_hours",
    "site",
    "splits",
    "weather",
    "pv",
    "battery",
    "sockets",
    "vehicles",
    "opening_hours",
    "fleet",
    "mall",
    "inputs",  # the plausibility limits a user's files are checked against
    *GRID_KEYS,
)


def build_parameters(settings) -> dict:
    """Those keys' values in `settings` (a Settings), as JSON values keyed by the dotted key."""
    plain = settings.as_dict()
    return json.loads(json.dumps({key: dotted_value(plain, key) for key in BUILD_KEYS}))
