"""What each pipeline stage reads: its parameter sections and the package files it runs.

The Snakefile takes its rules' params and code inputs from here; dvc.yaml lists the same keys and
files literally (DVC cannot import them), and tests/test_frontends.py proves the two agree.
"""

PACKAGE = "src/evstation"
# Whole subpackages are dependencies: a module added to one is covered without editing this list.
DATASET_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "dataset.py", "site"]
VALIDATE_CODE = DATASET_CODE + ["kpis.py", "validate.py", "simulation", "control"]
SIMULATION_CODE = DATASET_CODE + ["kpis.py", "evaluation.py", "simulation", "control"]
TRAINING_CODE = SIMULATION_CODE + ["learning"]
REPORT_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "report.py"]

SIMULATION_PARAMS = ["scenario", "battery", "sockets", "tariff", "emissions", "reward", "validation"]
STAGE_PARAMS = {
    "build_dataset": ["scenario", "simulation", "site", "splits", "weather", "pv", "battery", "sockets",
                      "vehicles", "opening_hours", "fleet", "mall", "tariff", "emissions"],
    "validate": ["scenario", "simulation", "mall", "sockets", "battery", "validation"],
    "baseline": SIMULATION_PARAMS,
    "oracle": SIMULATION_PARAMS + ["oracle"],
    "train": SIMULATION_PARAMS + ["simulation", "training", "control"],          # + agents.<agent>
    "evaluate": SIMULATION_PARAMS + ["simulation", "training", "control"],       # + agents.<agent>
    "compare": ["scenario", "emissions", "battery", "training", "report"],
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
