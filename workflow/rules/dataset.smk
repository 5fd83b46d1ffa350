# build-dataset and validate: each scenario's year as CityLearn datasets, checked before use.


rule build_dataset:
    input:
        code_files("build_dataset"),
    output:
        directory(DATA),
        f"{RESULTS}/dataset/summary.json",
    params:
        values=param_values("build_dataset"),
    shell:
        f"{EVSTATION} build-dataset"


rule validate:
    input:
        code_files("validate"),
        DATA,
    output:
        f"{RESULTS}/validation.json",
    params:
        values=param_values("validate"),
    shell:
        f"{EVSTATION} validate"
