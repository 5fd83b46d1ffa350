"""The one list of controllers and learners: each name, its kind, how it is built, what it reads.

The command line (its choices), `workflow/stages.py` (the jobs of both front ends), the report (its
rows and their order) and the learners all read this list, so a new rule is its class and one entry
here. The list is data: a builder is named as `module:attribute` and imported only when a stage
runs it, so reading the list (the Snakefile does, at every parse) imports neither CityLearn nor
torch, and this module, at the bottom of the package, imports nothing above it.

Kinds, in the report's order:
- `site`: another site, not a way to control this one (`without_solar`: the station without PV);
- `rule`: decides from what the station knows now; the best rule is the agents' bar;
- `planner`: forecasts and re-plans (`mpc`);
- `optimum`: perfect foresight, the LP solved on the whole year; the room is measured against it;
- `learner`: trained on the training year, one run per seed: the stable-baselines3 agents, and `es`,
  a knob policy searched by CMA-ES with a training loop of its own (`trainer`, `replayer`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import ConfigError

KINDS = ("site", "rule", "planner", "optimum", "learner")
# the stage that runs each kind (`evstation baseline NAME` for all but the learners); the optima have a
# stage of their own because they read `oracle` params and write the LP's records
STAGE_OF_KIND = {"site": "baseline", "rule": "baseline", "planner": "baseline", "optimum": "oracle", "learner": "train"}
RULE_DRIVER = "evstation.stages.baselines:run_rule"


@dataclass(frozen=True)
class Entry:
    """One controller or learner.

    `build`: what makes it, `module:attribute` (a rule's class, built by its `from_settings`; a
    learner's model builder). `driver`: the stage function that runs it on both years and writes its
    record, called as `driver(settings, data_dir, results_dir, name=name)`. `params`: the params.yaml keys
    it alone reads, beyond its stage's (a stage depends on them in both front ends). A learner that is
    not stable-baselines3's names its own `trainer` (called as `train_agent` is) and `replayer` (its final
    checkpoint as a controller: `replayer(agent, checkpoint, settings)`); `after`: the controllers whose
    records it reads (their stages run first: `es` moves the tuned `peak_shaving`)."""

    name: str
    kind: str
    build: str | None = None
    driver: str | None = RULE_DRIVER
    params: tuple[str, ...] = ()
    without_solar: bool = False
    trainer: str | None = None
    replayer: str | None = None
    after: tuple[str, ...] = ()

    @property
    def stage(self) -> str:
        return STAGE_OF_KIND[self.kind]


ENTRIES = (
    Entry("without_solar", "site", build="evstation.control.rules:FullPowerCharging", without_solar=True),
    Entry("uncontrolled", "rule", build="evstation.control.rules:FullPowerCharging"),
    Entry("rule_based", "rule", build="evstation.control.rules:RuleBased"),
    Entry("self_consumption", "rule", build="evstation.control.rules:SelfConsumption"),
    Entry("least_laxity", "rule", build="evstation.control.rules:LeastLaxity"),
    Entry("hold_for_peak", "rule", build="evstation.control.rules:HoldForPeak"),
    # its threshold is tuned on the training year first, so its driver is the tuning
    Entry("peak_shaving", "rule", driver="evstation.stages.tuning:run_peak_shaving", params=("peak_shaving",)),
    Entry("mpc", "planner", driver="evstation.stages.planner:run_mpc", params=("mpc", "oracle", "forecast")),
    Entry("oracle", "optimum", driver="evstation.stages.optimum:run_oracle"),
    Entry("oracle_bill", "optimum", driver="evstation.stages.optimum:run_oracle"),
    Entry("a2c", "learner", build="evstation.learning.agents:build_a2c", driver=None),
    Entry("sac", "learner", build="evstation.learning.agents:build_sac", driver=None),
    Entry("ppo", "learner", build="evstation.learning.agents:build_ppo", driver=None),
    Entry(
        "es",
        "learner",
        driver=None,
        params=("knobs",),
        trainer="evstation.learning.es:train_es",
        replayer="evstation.learning.es:replay_controller",
        after=("peak_shaving",),
    ),
)
BY_NAME = {entry.name: entry for entry in ENTRIES}


def names(*kinds: str) -> tuple[str, ...]:
    """The names of the given kinds (every name without one), in the list's order."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind {sorted(unknown)} (known: {', '.join(KINDS)})")
    return tuple(entry.name for entry in ENTRIES if not kinds or entry.kind in kinds)


def names_run_by(stage: str) -> tuple[str, ...]:
    """The names one pipeline stage runs (`baseline`, `oracle`, `train`)."""
    return tuple(entry.name for entry in ENTRIES if entry.stage == stage)


def entry(name: str) -> Entry:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown controller {name!r} (known: {', '.join(BY_NAME)})") from None


def extra_params(name: str | None) -> list[str]:
    """The params.yaml keys a controller alone reads (none for a name not given)."""
    return list(BY_NAME[name].params) if name in BY_NAME else []


def records_read(name: str | None) -> list[str]:
    """The controllers whose records a controller or learner reads (none for a name not given)."""
    return list(BY_NAME[name].after) if name in BY_NAME else []


def resolve(target: str):
    """The object a `module:attribute` reference names, imported now."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
