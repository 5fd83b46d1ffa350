# train AGENT --seed K and evaluate AGENT --seed K: each (agent, seed) a job of its own, in parallel.


rule train:
    input:
        code_files("train"),
        "data/citylearn",
    output:
        directory("results/checkpoints/{agent}/seed{seed}"),
        "results/curves/{agent}_seed{seed}.csv",
    params:
        values=lambda wildcards: param_values("train", wildcards.agent),
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    shell:
        "evstation train {wildcards.agent} --seed {wildcards.seed} --resume"


rule evaluate:
    input:
        code_files("evaluate"),
        "data/citylearn",
        "results/checkpoints/{agent}/seed{seed}",
    output:
        "results/metrics/{agent}_seed{seed}.json",
        "results/timeseries/{agent}_seed{seed}_train.csv",
        "results/timeseries/{agent}_seed{seed}_eval.csv",
    params:
        values=lambda wildcards: param_values("evaluate", wildcards.agent),
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    shell:
        "evstation evaluate {wildcards.agent} --seed {wildcards.seed}"
