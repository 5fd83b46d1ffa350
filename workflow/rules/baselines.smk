# baseline NAME: the reference controllers simulated on both years (run in parallel).


rule baseline:
    input:
        code_files("baseline"),
        "data/citylearn",
    output:
        "results/metrics/{name}.json",
        "results/timeseries/{name}_train.csv",
        "results/timeseries/{name}_eval.csv",
    params:
        values=param_values("baseline"),
    wildcard_constraints:
        name="|".join(BASELINES),
    shell:
        "evstation baseline {wildcards.name}"


rule oracle:
    input:
        code_files("oracle"),
        "data/citylearn",
    output:
        "results/metrics/oracle.json",
        "results/timeseries/oracle_train.csv",
        "results/timeseries/oracle_eval.csv",
        "results/oracle/train_lp.json",
        "results/oracle/eval_lp.json",
    params:
        values=param_values("oracle"),
    shell:
        "evstation baseline oracle"
