# build-dataset and validate: each scenario's year as CityLearn datasets, checked before use.


rule build_dataset:
    input:
        code=code_files("build_dataset"),
        site_files=scenario_files,
    output:
        update(directory(DATA)),
        update(f"{RESULTS}/dataset/summary.json"),
    log:
        log_file("build_dataset"),
    benchmark:
        benchmark_file("build_dataset")
    conda:
        ENVIRONMENT
    params:
        values=param_values("build_dataset"),
    shell:
        f"{EVSTATION} build-dataset"


rule validate:
    input:
        code=code_files("validate"),
        data=DATA,
    output:
        # the command removes it itself, under its lock: a failed run leaves no earlier passing record
        update(f"{RESULTS}/validation.json"),
    log:
        log_file("validate"),
    benchmark:
        benchmark_file("validate")
    conda:
        ENVIRONMENT
    params:
        values=param_values("validate"),
    shell:
        f"{EVSTATION} validate"
