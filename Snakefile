# The pipeline for Snakemake: the same stages, commands, inputs, outputs and parameters as dvc.yaml
# (tests/test_frontends.py proves it). Run: snakemake --cores all
configfile: "params.yaml"

include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/agents.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/validation.json",
        rules.compare.output,


# After a successful run, record its outputs in dvc.lock so `dvc repro` finds nothing stale. A run
# of only some targets leaves other stages without outputs: DVC then records nothing and says so.
onsuccess:
    shell("if command -v dvc >/dev/null && [ -d .dvc ]; then "
          "dvc commit --force --quiet || echo 'dvc.lock not updated: run the whole pipeline, or dvc commit STAGE'; fi")
