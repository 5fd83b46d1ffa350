"""The stage drivers: running a year, tuning a rule, replaying an optimum, evaluating a policy.

The layer above `simulation/`, `control/` and `learning/`: controllers only decide, simulators only
simulate, and the drivers here put them together and write each record (metrics JSON, timeseries).
The command line (`cli.py`) calls them; nothing below imports them.
"""
