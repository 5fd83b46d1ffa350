"""What a trained policy depends on: the settings its training reads, by dotted key.

One declaration serves three readers: the train stage of both front ends depends on exactly these
keys (workflow/stages.py takes them from here), a checkpoint records their values, and a final model
is evaluated only where they hold the values it was trained with. Everything else a stage reads
(the CO2 of displaced gasoline, the report, the seeds list, where and how fast it trains) may change
without retraining. The training data enter through the dataset's own fingerprint.
"""

from __future__ import annotations

import json

from .. import registry
from ..config import dotted_value

# The learner's problem (control, and the forecast it observes), its rewards (reward, tariff, emission
# factor), the physics it acts on (battery, sockets, simulation, validation's tolerances) and the
# constants the compact observation is scaled by (the mall's modelled peak, opening hours, the inverter's limit).
POLICY_KEYS = (
    "battery",
    "sockets",
    "tariff",
    "emissions.grid_kg_per_kwh",
    "reward",
    "validation",
    "simulation",
    "control",
    "forecast",
    # the planner a `control.residual: mpc` policy corrects (its LP's options too). Declared for every
    # scenario: the keys are per stage, not per scenario, so a change to the planner retrains every agent
    "mpc",
    "oracle",
    "mall.enabled",
    "mall.weekday_profile_kw",
    "mall.annual_energy_mwh",
    "opening_hours",
    "pv.inverter_ac_limit_kw",
    "training.checkpoint_every_steps",
)


KNOB_KEYS = ("knobs",)  # the knob problem's spans (control/knobs.py)


def policy_keys(agent: str, settings=None) -> tuple[str, ...]:
    """The keys a trained `agent` depends on: the shared ones, its own hyperparameters, the keys its registry
    entry says it alone reads (`es`: the knobs' spans), and the knobs' spans where `settings` pose the
    knob problem to any learner (`control.action_space: knobs`). The last are not in the stages' static
    keys: a span changed since refuses the model by name at evaluation rather than retraining it."""
    own = tuple(registry.extra_params(agent))
    posed = KNOB_KEYS if settings is not None and settings.control.action_space == "knobs" else ()
    return POLICY_KEYS + (f"agents.{agent}",) + own + tuple(key for key in posed if key not in own)


def policy_settings(settings, agent: str) -> dict:
    """Those keys' values in `settings` (a Settings), as JSON values keyed by the dotted key."""
    plain = settings.as_dict()
    return json.loads(json.dumps({key: dotted_value(plain, key) for key in policy_keys(agent, settings)}))
