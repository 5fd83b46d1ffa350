"""What a station can know at the hour it decides: forecasts of load and PV, and of the vehicles to come.

One forecaster for the planner and the learners alike (`forecaster.py`), built from the split's
own past (only the hours already seen) and what the station holds before it runs: the training
year's means by weekday and hour (`history.py`). The perfect forecast, the dataset's own values,
is a named setting for ablations: no station has it.
"""
