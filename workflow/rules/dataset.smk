# build-dataset and validate: the station's year as CityLearn datasets, checked before use.


rule build_dataset:
    input:
        code_files("build_dataset"),
    output:
        directory("data/citylearn"),
        "results/dataset/summary.json",
    params:
        values=param_values("build_dataset"),
    shell:
        "evstation build-dataset"


rule validate:
    input:
        code_files("validate"),
        "data/citylearn",
    output:
        "results/validation.json",
    params:
        values=param_values("validate"),
    shell:
        "evstation validate"
