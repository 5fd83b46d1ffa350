# The pipeline for Snakemake: the same stages, commands, inputs, outputs and parameters as dvc.yaml.
# Run: snakemake --cores all   (a test checks that the two front ends agree stage by stage)
configfile: "params.yaml"

include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/agents.smk"


rule all:
    input:
        "results/validation.json",
        expand("results/metrics/{name}.json", name=BASELINES),
        expand("results/metrics/{agent}_seed{seed}.json", agent=AGENTS, seed=config["training"]["seeds"]),
