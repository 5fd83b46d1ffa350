"""What each pipeline stage reads: its parameter sections and the package files it runs.

The Snakefile takes its rules' params and code inputs from here; dvc.yaml lists the same keys and
files literally (DVC cannot import them), and tests/test_frontends.py proves the two agree.
"""

PACKAGE = "src/evstation"
DATASET_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "dataset.py", "site"]
VALIDATE_CODE = DATASET_CODE + ["env.py", "reward.py", "validate.py"]
SIMULATION_CODE = DATASET_CODE + ["env.py", "reward.py", "controllers.py", "simulate.py", "kpis.py", "evaluation.py"]
TRAINING_CODE = SIMULATION_CODE + ["agents.py", "checkpoints.py", "training.py", "fastsim.py", "fastsim_data.py",
                                   "fastsim_physics.py"]
REPORT_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "report.py"]

SIMULATION_PARAMS = ["scenario", "battery", "sockets", "tariff", "emissions", "reward", "validation"]
STAGE_PARAMS = {
    "build_dataset": ["scenario", "simulation", "site", "splits", "weather", "pv", "battery", "sockets",
                      "vehicles", "opening_hours", "fleet", "mall", "tariff", "emissions"],
    "validate": ["scenario", "simulation", "mall", "sockets", "battery", "validation"],
    "baseline": SIMULATION_PARAMS,
    "oracle": SIMULATION_PARAMS + ["oracle"],
    "train": SIMULATION_PARAMS + ["simulation", "training"],          # + agents.<agent>
    "evaluate": SIMULATION_PARAMS + ["simulation", "training"],       # + agents.<agent>
    "compare": ["scenario", "emissions", "battery", "training", "report"],
}
STAGE_CODE = {
    "build_dataset": DATASET_CODE,
    "validate": VALIDATE_CODE,
    "baseline": SIMULATION_CODE,
    "oracle": SIMULATION_CODE + ["oracle.py"],
    "train": TRAINING_CODE,
    "evaluate": TRAINING_CODE,
    "compare": REPORT_CODE,
}
BASELINES = ["without_solar", "uncontrolled", "rule_based"]
AGENTS = ["a2c", "sac", "ppo"]


def code_files(stage):
    return [f"{PACKAGE}/{name}" for name in STAGE_CODE[stage]]
