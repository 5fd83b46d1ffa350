# compare: every controller of every scenario on both years, tables, the summary, the headline and figures.

CONTROLLERS = stages.controllers()
RUNS = stages.runs(config)


rule compare:
    input:
        code=code_files("compare"),
        metrics=expand(f"{RESULTS}/metrics/{{name}}.json", scenario=SCENARIOS, name=CONTROLLERS + RUNS),
        timeseries=expand(
            f"{RESULTS}/timeseries/{{name}}_{{split}}.csv",
            scenario=SCENARIOS,
            name=CONTROLLERS + RUNS,
            split=["train", "eval"],
        ),
        curves=expand(stages.curve_file(RESULTS, "{agent}", "{seed}"), scenario=SCENARIOS, agent=AGENTS, seed=SEEDS),
        # the station's service and grid factor, from each scenario's dataset
        dataset=expand(f"{RESULTS}/dataset/summary.json", scenario=SCENARIOS),
        # each run's final model; its validation scores (selection.json, beside it) for the learning curves
        final_models=expand(
            stages.final_model(RESULTS, "{agent}", "{seed}"), scenario=SCENARIOS, agent=AGENTS, seed=SEEDS
        ),
    output:
        update(
            expand(
                f"{REPORT}/{{name}}",
                name=stages.REPORT_TABLES + [stages.REPORT_SUMMARY, stages.REPORT_HEADLINE] + stages.REPORT_FIGURES,
            )
        ),
    log:
        f"{LOGS}/compare.log",
    benchmark:
        f"{BENCHMARKS}/compare.tsv"
    conda:
        ENVIRONMENT
    params:
        values=lambda wildcards: {key: stages.dotted_value(config, key) for key in stages.stage_keys("compare")},
    shell:
        f"evstation --params {PARAMS} --log {{log}} compare"
