# baseline NAME: the reference controllers simulated on both years (run in parallel).

BASELINES = ["without_solar", "uncontrolled", "rule_based"]
SIMULATION_CODE = ["__init__.py", "config.py", "schema.py", "errors.py", "files.py", "dataset.py", "env.py",
                   "reward.py", "controllers.py", "simulate.py", "kpis.py", "evaluation.py", "site"]
BASELINE_PARAMS = ["scenario", "battery", "sockets", "tariff", "emissions", "reward", "validation"]


rule baseline:
    input:
        package_files(*SIMULATION_CODE),
        "data/citylearn",
    output:
        "results/metrics/{name}.json",
        "results/timeseries/{name}_train.csv",
        "results/timeseries/{name}_eval.csv",
    params:
        values=param_values(*BASELINE_PARAMS),
    wildcard_constraints:
        name="|".join(BASELINES),
    shell:
        "evstation baseline {wildcards.name}"
