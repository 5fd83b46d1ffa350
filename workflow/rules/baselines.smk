# baseline NAME: the reference controllers and the optimum simulated on both years of each scenario
# (run in parallel).


rule baseline:
    input:
        code_files("baseline"),
        DATA,
    output:
        f"{RESULTS}/metrics/{{name}}.json",
        f"{RESULTS}/timeseries/{{name}}_train.csv",
        f"{RESULTS}/timeseries/{{name}}_eval.csv",
    params:
        values=param_values("baseline"),
    log:
        log_file("baseline-{name}"),
    benchmark:
        benchmark_file("baseline-{name}")
    wildcard_constraints:
        name="|".join(BASELINES),
    conda:
        ENVIRONMENT
    shell:
        f"{EVSTATION} baseline {{wildcards.name}}"


rule oracle:
    input:
        code_files("oracle"),
        DATA,
    output:
        f"{RESULTS}/metrics/oracle.json",
        f"{RESULTS}/timeseries/oracle_train.csv",
        f"{RESULTS}/timeseries/oracle_eval.csv",
        stages.oracle_records(RESULTS, "oracle"),
    params:
        values=param_values("oracle"),
    log:
        log_file("oracle"),
    benchmark:
        benchmark_file("oracle")
    conda:
        ENVIRONMENT
    shell:
        f"{EVSTATION} baseline oracle"
