# build-dataset and validate: the station's year as CityLearn datasets, checked before use.

DATASET_PARAMS = ["scenario", "simulation", "site", "splits", "weather", "pv", "battery", "sockets",
                  "vehicles", "opening_hours", "fleet", "mall", "tariff", "emissions"]
VALIDATE_PARAMS = ["scenario", "simulation", "mall", "sockets", "battery", "validation"]


rule build_dataset:
    input:
        package_files("__init__.py", "config.py", "schema.py", "errors.py", "dataset.py", "site"),
    output:
        directory("data/citylearn"),
        "results/dataset/summary.json",
    params:
        values=param_values(*DATASET_PARAMS),
    shell:
        "evstation build-dataset"


rule validate:
    input:
        package_files("__init__.py", "config.py", "schema.py", "errors.py", "dataset.py", "env.py", "validate.py"),
        "data/citylearn",
    output:
        "results/validation.json",
    params:
        values=param_values(*VALIDATE_PARAMS),
    shell:
        "evstation validate"
