# compare: every controller of every scenario on both years, tables and figures.

CONTROLLERS = BASELINES + ["oracle"]
RUNS = [f"{agent}_seed{seed}" for agent in AGENTS for seed in SEEDS]
REPORT_FILES = ["comparison.md", "comparison.csv", "comparison.json", "kpi_bars.png", "power_flows_week.png",
                "battery_soc_week.png", "learning_curves.png"]


rule compare:
    input:
        code_files("compare"),
        expand(f"{RESULTS}/metrics/{{name}}.json", scenario=SCENARIOS, name=CONTROLLERS + RUNS),
        expand(f"{RESULTS}/timeseries/{{name}}_{{split}}.csv", scenario=SCENARIOS, name=CONTROLLERS + RUNS,
               split=["train", "eval"]),
        expand(f"{RESULTS}/curves/{{run}}.csv", scenario=SCENARIOS, run=RUNS),
    output:
        expand(f"{REPORT}/{{name}}", name=REPORT_FILES),
    params:
        values=param_values("compare"),
    shell:
        f"evstation --params {params_file()} compare"
