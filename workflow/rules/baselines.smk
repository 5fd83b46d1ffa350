# baseline NAME: the reference controllers simulated on both years of each scenario (run in parallel).


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
    wildcard_constraints:
        name="|".join(BASELINES),
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
        f"{RESULTS}/oracle/train_lp.json",
        f"{RESULTS}/oracle/eval_lp.json",
    params:
        values=param_values("oracle"),
    shell:
        f"{EVSTATION} baseline oracle"
