"""The controllers the report knows, by role, and the KPIs it reads from their records: named once here,
so that every part of the report (and the scripts reading its tables) agrees on who is a rule, an optimum,
a planner or an agent, and in which order they are shown."""

from __future__ import annotations

from .. import registry

# who is who comes from the package's registry, in its order
RULES = registry.names("rule")  # the candidates for the bar
OPTIMA = registry.names("optimum")  # the LP solved grid CO2 first | bill first
PLANNERS = registry.names("planner")  # forecasts and re-plans: reported with its share, never the bar
NOT_STRATEGIES = registry.names("site")  # another site (no PV), not a way to control this one
BASELINE_ORDER = registry.names("site", "rule", "planner", "optimum")
AGENT_ORDER = registry.names("learner")
OBJECTIVE_KPI = {"grid_co2": "co2_grid_kg", "bill": "bill_pen"}
OPTIMUM = {"grid_co2": "oracle", "bill": "oracle_bill"}
OBJECTIVE_LABEL = {"grid_co2": "grid CO2", "bill": "bill"}
BILL_KPIS = (
    "bill_pen",
    "bill_energy_pen",
    "bill_demand_generation_pen",
    "bill_demand_distribution_pen",
    "bill_export_credit_pen",
)
KPIS = (
    "co2_grid_kg",
    "co2_net_kg",
    "co2_emitted_kg",
    "co2_indirect_avoided_kg",
    "co2_direct_avoided_kg",
    "import_kwh",
    "cost_pen",
    *BILL_KPIS,
    "solar_utilization_pct",
    "surplus_kwh",
    "sessions_departed",  # the sessions served: those that found a socket and left within the year
    "ev_satisfaction_pct",
    "ev_energy_fulfilment_pct",
    "peak_import_kw",
    "mean_daily_peak_import_kw",
    "bess_in_kwh",
    "bess_out_kwh",
    "reward_mean",
    "learning_reward_mean",
)


def controller_order(names) -> list[str]:
    """`names` once each, in the report's order: the baselines, then the agents, then any other."""
    order = {name: index for index, name in enumerate(BASELINE_ORDER + AGENT_ORDER)}
    return sorted(dict.fromkeys(names), key=lambda name: order.get(name, len(order)))
