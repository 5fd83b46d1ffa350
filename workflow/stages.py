"""What each pipeline stage reads: its parameters, its package code and its input files; where it writes.

Both front ends are built from this one declaration: the Snakefile's rules take their params, code
inputs and files from here, and `workflow/write_dvc_yaml.py` writes dvc.yaml from it (a test checks
that the committed dvc.yaml is what it writes, and that the two front ends agree job by job).

Every stage but `compare` runs once per scenario of params.yaml `scenarios`, its scenario in the
command (`--scenario NAME`). A stage depends on exactly the parameter keys it reads: the base keys
below, and each of its scenario's overrides of those keys (`scenarios.mall_mt3.tariff.demand...`),
so changing a key, or one scenario's override of it, makes only the stages that read it stale.
The files a scenario names (its own load, weather, sessions, tariff, emission factor) are read
when its dataset is built, and are dependencies of that stage alone.
"""

from __future__ import annotations

from evstation import registry
from evstation.build_params import BUILD_KEYS
from evstation.config import dotted_value  # noqa: F401  (the rules read values through it)
from evstation.learning.policy_settings import POLICY_KEYS

PACKAGE = "src/evstation"
# Whole subpackages are dependencies: a module added to one is covered without editing this list.
DATASET_CODE = [
    "__init__.py",
    "config.py",
    "build_params.py",
    "schema.py",
    "errors.py",
    "files.py",
    "registry.py",
    "dataset.py",
    "site",
]
VALIDATE_CODE = DATASET_CODE + ["kpis.py", "validate.py", "tariff", "forecast", "problem", "simulation", "control"]
SIMULATION_CODE = DATASET_CODE + ["kpis.py", "tariff", "forecast", "problem", "simulation", "control", "stages"]
TRAINING_CODE = SIMULATION_CODE + ["learning"]
REPORT_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "registry.py", "report"]

DATA = "data/{scenario}/citylearn"  # the scenario's CityLearn datasets, one folder per split
SCENARIO_RESULTS = "results/scenarios"  # compare reads every scenario's records under here
RESULTS = SCENARIO_RESULTS + "/{scenario}"  # metrics/, timeseries/, checkpoints/, curves/, oracle/, dataset/
VALIDATION = RESULTS + "/validation.json"  # the datasets' checks: no run on datasets that failed them
REPORT = "results/report"  # the comparison of every scenario
LOGS = "results/logs"  # each job's log (not versioned)
BENCHMARKS = "results/benchmarks"  # each Snakemake job's time and memory (not versioned)

MEASURED_RUN_PARAMS = [
    "battery",
    "sockets",
    "tariff",
    "emissions",
    "reward",
    "validation",
    "simulation",
    "control.learning_reward",
    "control.learning_scales",
]
# What shapes a trained policy, declared in the package (a final model is evaluated only where these
# keys hold the values it was trained with): not the gasoline factor, the seeds list or the report.
TRAINING_PARAMS = list(POLICY_KEYS)
STAGE_PARAMS = {
    "build_dataset": list(BUILD_KEYS),  # what a build reads, declared in the package (the dataset records them)
    "validate": ["simulation.horizon_hours", "mall", "sockets", "battery", "validation"],
    "baseline": MEASURED_RUN_PARAMS + ["objective"],
    "oracle": MEASURED_RUN_PARAMS + ["oracle"],
    "train": TRAINING_PARAMS,  # + agents.<agent>
    "evaluate": TRAINING_PARAMS + ["emissions"],  # + agents.<agent>
    "compare": ["scenarios", "objective", "emissions", "battery", "training.seeds", "report"],
}
STAGE_CODE = {
    "build_dataset": DATASET_CODE,
    "validate": VALIDATE_CODE,
    "baseline": SIMULATION_CODE,
    "oracle": SIMULATION_CODE,
    "train": TRAINING_CODE,
    "evaluate": TRAINING_CODE,
    "compare": REPORT_CODE,
}
# The jobs come from the package's registry of controllers and learners: a new entry there is a new job here.
BASELINES = list(registry.names_run_by("baseline"))
ORACLES = list(registry.names_run_by("oracle"))
AGENTS = list(registry.names_run_by("train"))


def code_files(stage: str) -> list[str]:
    return [f"{PACKAGE}/{name}" for name in STAGE_CODE[stage]]


def stage_keys(stage: str, agent: str | None = None, controller: str | None = None) -> list[str]:
    """The base parameter keys a stage reads (dotted, as DVC names them): an agent's stage its
    agent's settings too, a controller's or a learner's stage what it alone reads (`es`: `knobs`)."""
    own = registry.extra_params(controller) + registry.extra_params(agent)
    return STAGE_PARAMS[stage] + ([f"agents.{agent}"] if agent else []) + own


def leaves(mapping: dict, prefix: str = "") -> list[str]:
    """Every leaf key of a nested mapping, dotted (`tariff.demand.generation_pen_per_kw_month`)."""
    found = []
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found += leaves(value, dotted + ".")
        elif not isinstance(value, dict):
            found.append(dotted)
    return found


def overlaps(key: str, other: str) -> bool:
    """One key is the other or lies inside it (`tariff.demand.x` and `tariff`, either way round)."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def scenario_keys(
    params: dict, scenario: str, stage: str, agent: str | None = None, controller: str | None = None
) -> list[str]:
    """The scenario's overrides of the keys the stage reads, as params.yaml keys."""
    if stage == "compare":
        return []  # compare reads `scenarios` whole
    overrides = params["scenarios"][scenario] or {}
    read = stage_keys(stage, agent, controller)
    return [f"scenarios.{scenario}.{leaf}" for leaf in leaves(overrides) if any(overlaps(leaf, key) for key in read)]


def param_keys(
    params: dict, stage: str, scenario: str | None = None, agent: str | None = None, controller: str | None = None
) -> list[str]:
    """Every params.yaml key the stage reads for this scenario: base keys, then the scenario's overrides."""
    return stage_keys(stage, agent, controller) + (
        scenario_keys(params, scenario, stage, agent, controller) if scenario else []
    )


def scenarios(params: dict) -> list[str]:
    return list(params["scenarios"])


def seeds(params: dict) -> list[int]:
    return list(params["training"]["seeds"])


def controllers() -> list[str]:
    return BASELINES + ORACLES


def runs(params: dict) -> list[str]:
    return [f"{agent}_seed{seed}" for agent in AGENTS for seed in seeds(params)]


def input_files(params_path: str, scenario: str) -> list[str]:
    """The files the scenario's params name (read when its dataset is built), validated first."""
    from evstation.config import load_settings

    return sorted(set(load_settings(params_path, scenario).input_files().values()))


def merged_settings(params_path: str, scenario: str) -> dict:
    """The scenario's settings as plain data: params.yaml with its overrides applied."""
    from evstation.config import load_settings

    return load_settings(params_path, scenario).as_dict()


REPORT_TABLES = ["comparison.md", "comparison.csv", "comparison.json"]
REPORT_SUMMARY = "summary.json"  # every controller's main figures: a plain output
# DVC's only metrics: a few figures per scenario, so that `dvc exp show` and `dvc metrics show` fit a terminal
REPORT_HEADLINE = "headline.json"
REPORT_FIGURES = [
    "kpi_bars.png",
    "turned_away_by_hour.png",
    "power_flows_week.png",
    "battery_soc_week.png",
    "learning_curves.png",
]


def curve_file(results: str, agent: str, seed) -> str:
    """A training run's learning curve (learning/training.py writes it): one row per logged step."""
    return f"{results}/curves/{agent}_seed{seed}.csv"


# The curve's columns DVC plots: the step, the validation score model selection keeps the model by, and the
# training reward per step (learning/training.py CURVE_COLUMNS; a test checks they are there).
CURVE_X = "timesteps"
CURVE_Y = ["validation_score", "reward_mean"]


def final_model(results: str, agent: str, seed) -> str:
    """A training run's declared output: its final model. The run's periodic checkpoints, beside it, are
    its own state, never an output: no front end caches, records or judges a job by them, and a killed
    run, rerun or retried, resumes from them."""
    return f"{results}/checkpoints/{agent}/seed{seed}/final"


def residual_records(settings: dict, results: str, agent: str | None = None) -> list[str]:
    """What a policy's train and evaluate stages read besides the data: the record of the tuned rule
    it corrects (`control.residual: peak_shaving`, from the scenario's merged settings), and the records
    its learner's registry entry reads whatever the settings (`es` moves the tuned rule)."""
    read = ["peak_shaving"] if settings["control"]["residual"] == "peak_shaving" else []
    read += [name for name in registry.records_read(agent) if name not in read]
    return [f"{results}/metrics/{name}.json" for name in read]


def oracle_records(results: str, name: str) -> list[str]:
    """The LP's own records of an optimum, beside its metrics."""
    if name == "oracle":
        return [f"{results}/oracle/train_lp.json", f"{results}/oracle/eval_lp.json"]
    return [f"{results}/oracle/{name}_train_lp.json", f"{results}/oracle/{name}_eval_lp.json"]
