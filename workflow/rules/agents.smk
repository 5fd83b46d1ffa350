# train AGENT --seed K and evaluate AGENT --seed K: each (scenario, agent, seed) a job of its own, in parallel.


rule train:
    input:
        code=code_files("train"),
        data=DATA,
        validated=ancient(VALIDATION),
        corrected_rule=corrected_rule,
    output:
        directory(f"{RESULTS}/checkpoints/{{agent}}/seed{{seed}}"),
        f"{RESULTS}/curves/{{agent}}_seed{{seed}}.csv",
    log:
        log_file("train-{agent}-{seed}"),
    benchmark:
        benchmark_file("train-{agent}-{seed}")
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    conda:
        ENVIRONMENT
    params:
        values=param_values("train", agent=True),
    shell:
        f"{EVSTATION} train {{wildcards.agent}} --seed {{wildcards.seed}} --resume"


rule evaluate:
    input:
        code=code_files("evaluate"),
        data=DATA,
        validated=ancient(VALIDATION),
        corrected_rule=corrected_rule,
        checkpoints=f"{RESULTS}/checkpoints/{{agent}}/seed{{seed}}",
    output:
        f"{RESULTS}/metrics/{{agent}}_seed{{seed}}.json",
        f"{RESULTS}/timeseries/{{agent}}_seed{{seed}}_train.csv",
        f"{RESULTS}/timeseries/{{agent}}_seed{{seed}}_eval.csv",
    log:
        log_file("evaluate-{agent}-{seed}"),
    benchmark:
        benchmark_file("evaluate-{agent}-{seed}")
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    conda:
        ENVIRONMENT
    params:
        values=param_values("evaluate", agent=True),
    shell:
        f"{EVSTATION} evaluate {{wildcards.agent}} --seed {{wildcards.seed}}"
