# train AGENT --seed K and evaluate AGENT: each (agent, seed) a job of its own, run in parallel.

AGENTS = ["a2c", "sac", "ppo"]
TRAINING_CODE = SIMULATION_CODE + ["agents.py", "checkpoints.py", "training.py"]
TRAIN_PARAMS = ["simulation", "battery", "sockets", "tariff", "emissions", "reward", "validation", "training"]


rule train:
    input:
        package_files(*TRAINING_CODE),
        "data/citylearn",
    output:
        directory("results/checkpoints/{agent}/seed{seed}"),
        "results/curves/{agent}_seed{seed}.csv",
    params:
        values=lambda wildcards: {**param_values(*TRAIN_PARAMS), "agent": config["agents"][wildcards.agent]},
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    shell:
        "evstation train {wildcards.agent} --seed {wildcards.seed} --resume"


rule evaluate:
    input:
        package_files(*TRAINING_CODE),
        "data/citylearn",
        "results/checkpoints/{agent}/seed{seed}",
    output:
        "results/metrics/{agent}_seed{seed}.json",
        "results/timeseries/{agent}_seed{seed}_train.csv",
        "results/timeseries/{agent}_seed{seed}_eval.csv",
    params:
        values=lambda wildcards: {**param_values(*TRAIN_PARAMS), "agent": config["agents"][wildcards.agent]},
    wildcard_constraints:
        agent="|".join(AGENTS),
        seed=r"\d+",
    shell:
        "evstation evaluate {wildcards.agent} --seed {wildcards.seed}"
