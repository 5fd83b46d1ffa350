"""Running any controller of the registry on both years: rules directly, the others by their drivers."""

from __future__ import annotations

from pathlib import Path

from .. import registry
from ..config import Settings
from ..control.rules import make_baseline
from .records import run_controller


def run_rule(settings: Settings, data_dir: Path, results_dir: Path, *, name: str) -> dict:
    """A rule that needs no tuning, on both years (the training year on the fast twin where params say)."""
    return run_controller(
        settings,
        name,
        lambda split: make_baseline(name, settings),
        data_dir=Path(data_dir),
        results_dir=Path(results_dir),
        without_solar=registry.entry(name).without_solar,
        fast_training_year=True,
    )


def run_baseline(settings: Settings, name: str, data_dir: Path, results_dir: Path) -> dict:
    """The controller `name` (a rule, the planner or an optimum) run by its registry entry's driver."""
    driver = registry.resolve(registry.entry(name).driver)
    return driver(settings, Path(data_dir), Path(results_dir), name=name)
