# train AGENT --seed K and evaluate AGENT --seed K: each (scenario, agent, seed) a job of its own, in parallel.
# A training job's outputs are its final model and learning curve; its periodic checkpoints, beside the
# final model, are the run's own state, no output: whenever Snakemake runs the job again (a rerun, a
# retry) it resumes from the newest intact one, and the previous outputs stay until the new ones are whole.


rule train:
    input:
        code=code_files("train"),
        data=DATA,
        validated=ancient(VALIDATION),
        corrected_rule=corrected_rule,
    output:
        update(directory(stages.final_model(RESULTS, "{agent}", "{seed}"))),
        update(stages.curve_file(RESULTS, "{agent}", "{seed}")),
    log:
        # Snakemake empties a job's log before each attempt: the command appends to a log of its own
        # (every attempt's, as under DVC), the one of the other rules' pattern; this one is Snakemake's
        log_file("train-{agent}-{seed}.attempt"),
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
        evstation_logging_to(f"{LOGS}/{{wildcards.scenario}}/train-{{wildcards.agent}}-{{wildcards.seed}}.log")
        + " train {wildcards.agent} --seed {wildcards.seed} --resume"


rule evaluate:
    input:
        code=code_files("evaluate"),
        data=DATA,
        validated=ancient(VALIDATION),
        corrected_rule=corrected_rule,
        final_model=stages.final_model(RESULTS, "{agent}", "{seed}"),
    output:
        update(f"{RESULTS}/metrics/{{agent}}_seed{{seed}}.json"),
        update(f"{RESULTS}/timeseries/{{agent}}_seed{{seed}}_train.csv"),
        update(f"{RESULTS}/timeseries/{{agent}}_seed{{seed}}_eval.csv"),
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
