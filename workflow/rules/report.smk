# compare: every controller on both years, tables and figures.

CONTROLLER_RECORDS = (
    expand("results/metrics/{name}.json", name=BASELINES + ["oracle"])
    + expand("results/metrics/{agent}_seed{seed}.json", agent=AGENTS, seed=config["training"]["seeds"])
)
REPORT_FILES = ["comparison.md", "comparison.csv", "comparison.json", "kpi_bars.png", "power_flows_week.png",
                "battery_soc_week.png", "learning_curves.png"]


rule compare:
    input:
        code_files("compare"),
        CONTROLLER_RECORDS,
        expand("results/timeseries/{name}_{split}.csv", name=BASELINES + ["oracle"], split=["train", "eval"]),
        expand("results/timeseries/{agent}_seed{seed}_{split}.csv", agent=AGENTS, seed=config["training"]["seeds"],
               split=["train", "eval"]),
        expand("results/curves/{agent}_seed{seed}.csv", agent=AGENTS, seed=config["training"]["seeds"]),
    output:
        expand("results/report/{name}", name=REPORT_FILES),
    params:
        values=param_values("compare"),
    shell:
        "evstation compare"
