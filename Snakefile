# The pipeline for Snakemake: the same stages, commands, inputs, outputs and parameters as dvc.yaml
# (tests/test_frontends.py proves it). Run: snakemake --cores all
# Another parameters file: snakemake --configfile other.yaml (the commands then read it too).
configfile: "params.yaml"

include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/agents.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        expand(f"{RESULTS}/validation.json", scenario=SCENARIOS),
        rules.compare.output,


# After a successful run, record its outputs in dvc.lock so `dvc repro` finds nothing stale, keeping
# the files' times so Snakemake does not either (workflow/dvc_record.py). A run of only some targets
# leaves other stages without outputs: DVC then records nothing and says so.
onsuccess:
    from dvc_record import commit_keeping_times
    commit_keeping_times()
