# build-dataset and validate: each scenario's year as CityLearn datasets, checked before use.


rule build_dataset:
    input:
        code=code_files("build_dataset"),
        site_files=scenario_files,
    output:
        directory(DATA),
        f"{RESULTS}/dataset/summary.json",
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
        f"{RESULTS}/validation.json",
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
