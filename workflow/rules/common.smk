# Helpers shared by the rules. What each stage reads is declared once, in workflow/stages.py.
import os
import sys

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from stages import AGENTS, BASELINES, DATA, REPORT, RESULTS, SCENARIO_RESULTS, STAGE_PARAMS, code_files  # noqa: E402

SCENARIOS = list(config["scenarios"])
SEEDS = list(config["training"]["seeds"])


def params_file():
    """The parameters file Snakemake was given (`--configfile`, else the Snakefile's params.yaml):
    every command reads that one, so the targets and the commands never come from two files."""
    given = [str(path) for path in workflow.configfiles if str(path) != "params.yaml"]
    if len(given) > 1:
        raise ValueError(f"one --configfile at most (the commands read a single parameters file), got {given}")
    return os.path.relpath(given[0]) if given else "params.yaml"


EVSTATION = f"evstation --params {params_file()} --scenario {{wildcards.scenario}}"

wildcard_constraints:
    scenario="|".join(SCENARIOS),


def param_value(key):
    """A params.yaml value by its dotted key, as DVC names it (`control.learning_scales`)."""
    value = config
    for part in key.split("."):
        value = value[part]
    return value


def param_values(stage, agent=None):
    """The values of the params sections a stage reads, so Snakemake reruns it when one changes."""
    values = {key: param_value(key) for key in STAGE_PARAMS[stage]}
    if agent is not None:
        values[f"agents.{agent}"] = config["agents"][agent]
    return values
