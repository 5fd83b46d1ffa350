# baseline NAME: the reference controllers and the optimum simulated on both years of each scenario
# (run in parallel).


rule baseline:
    input:
        code=code_files("baseline"),
        data=DATA,
        validated=ancient(VALIDATION),
    output:
        update(f"{RESULTS}/metrics/{{name}}.json"),
        update(f"{RESULTS}/timeseries/{{name}}_train.csv"),
        update(f"{RESULTS}/timeseries/{{name}}_eval.csv"),
    log:
        log_file("baseline-{name}"),
    benchmark:
        benchmark_file("baseline-{name}")
    wildcard_constraints:
        name="|".join(BASELINES),
    conda:
        ENVIRONMENT
    params:
        values=param_values("baseline", controller=True),
    shell:
        f"{EVSTATION} baseline {{wildcards.name}}"


# The optimum in its two modes, grid CO2 first (oracle) and the bill first (oracle_bill): a rule each.
for optimum in ORACLES:

    rule:
        name:
            optimum
        input:
            code=code_files("oracle"),
            data=DATA,
            validated=ancient(VALIDATION),
        output:
            update(f"{RESULTS}/metrics/{optimum}.json"),
            update(f"{RESULTS}/timeseries/{optimum}_train.csv"),
            update(f"{RESULTS}/timeseries/{optimum}_eval.csv"),
            update(stages.oracle_records(RESULTS, optimum)),
        log:
            log_file(optimum),
        benchmark:
            benchmark_file(optimum)
        conda:
            ENVIRONMENT
        params:
            values=param_values("oracle"),
            mode=optimum,  # the loop's value now: the shell command is formatted when the job runs
        shell:
            f"{EVSTATION} baseline {{params.mode}}"
