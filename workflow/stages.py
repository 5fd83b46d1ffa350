"""What each pipeline stage reads: its parameter sections and the package files it runs; where it writes.

The Snakefile takes its rules' params, code inputs and folders from here; dvc.yaml lists the same
keys and paths literally (DVC cannot import them), and tests/test_frontends.py proves the two agree.

Every stage but `compare` runs once per scenario of params.yaml `scenarios`, its scenario in the
command (`--scenario NAME`) rather than in its params: dropping a scenario from the list leaves
the other's stages unchanged. Each scenario's outputs lie under a folder of its own, all of them
under one parent that `compare` depends on as a whole, so the same dvc.yaml serves any list.
"""

PACKAGE = "src/evstation"
# Whole subpackages are dependencies: a module added to one is covered without editing this list.
DATASET_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "dataset.py", "site"]
VALIDATE_CODE = DATASET_CODE + ["kpis.py", "validate.py", "simulation", "control"]
SIMULATION_CODE = DATASET_CODE + ["kpis.py", "evaluation.py", "simulation", "control"]
TRAINING_CODE = SIMULATION_CODE + ["learning"]
REPORT_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "report.py"]

DATA = "data/{scenario}/citylearn"              # the scenario's CityLearn datasets, one folder per split
SCENARIO_RESULTS = "results/scenarios"          # compare reads every scenario's records under here
RESULTS = SCENARIO_RESULTS + "/{scenario}"      # metrics/, timeseries/, checkpoints/, curves/, oracle/, dataset/
REPORT = "results/report"                       # the comparison of every scenario

SIMULATION_PARAMS = ["battery", "sockets", "tariff", "emissions", "reward", "validation"]
LEARNING_REWARD_PARAMS = ["control.learning_reward", "control.learning_scales"]   # not the agents' other switches
STAGE_PARAMS = {
    "build_dataset": ["simulation", "site", "splits", "weather", "pv", "battery", "sockets",
                      "vehicles", "opening_hours", "fleet", "mall", "tariff", "emissions"],
    "validate": ["simulation", "mall", "sockets", "battery", "validation"],
    # simulation: the training year's simulator; every run records the learning reward beside its own
    "baseline": SIMULATION_PARAMS + ["simulation"] + LEARNING_REWARD_PARAMS,
    "oracle": SIMULATION_PARAMS + ["simulation", "oracle"] + LEARNING_REWARD_PARAMS,
    "train": SIMULATION_PARAMS + ["simulation", "training", "control"],          # + agents.<agent>
    "evaluate": SIMULATION_PARAMS + ["simulation", "training", "control"],       # + agents.<agent>
    "compare": ["scenarios", "emissions", "battery", "training", "report"],
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
BASELINES = ["without_solar", "uncontrolled", "rule_based", "self_consumption", "least_laxity"]
AGENTS = ["a2c", "sac", "ppo"]


def code_files(stage):
    return [f"{PACKAGE}/{name}" for name in STAGE_CODE[stage]]
