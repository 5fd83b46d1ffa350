"""The station as a gymnasium environment: `gymnasium.make("evstation/Station-v0", ...)`.

The id is registered when gymnasium is imported (the package declares a `gymnasium.envs` plugin
entry point, which gymnasium 0.28 loads on import) and when this module is imported. Registration
is lazy: the environment's code (numpy simulator, the project's settings) is only imported by
`gymnasium.make`, so neither `import gymnasium` nor `evstation --help` gets slower.

Keyword arguments of `gymnasium.make`:

- `params`: the parameters file (default "params.yaml");
- `scenario`: one of its `scenarios` (default the first);
- `split`: "train" or "eval", the dataset's year;
- `data_dir`: the folder holding the scenario's `train/` and `eval/` datasets (default
  `data/<scenario>/citylearn` beside the parameters file, where `evstation build-dataset` writes);
- `window`: "train" (the training window, before the model-selection days), "validation" or
  "year"; default "train" on the training split, "year" on the evaluation split;
- `reward_scale`: multiplies the reward (default 1; `info["reward_unscaled"]` keeps the unscaled one).

The environment is the learner's (`learning.station_env.make_learner_env` on the fast simulator):
the project's observation (`control.observation`), action map (`control` action pipeline) and
learning reward. Observations are not normalised (the project's training wraps them in
stable-baselines3's `VecNormalize`).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium

ENV_ID = "evstation/Station-v0"
ENTRY_POINT = "evstation.gym:StationEnv"
SPLITS = ("train", "eval")


def register_envs() -> None:
    """Register the station's environment id (once; the gymnasium plugin entry point calls this)."""
    from gymnasium.envs.registration import register, registry

    if ENV_ID not in registry:
        register(id=ENV_ID, entry_point=ENTRY_POINT)


class StationEnv(gymnasium.Env):
    """The learner's environment of one scenario's dataset, as a plain `gymnasium.Env` (its
    `unwrapped` is itself, so environment checkers see the project's spaces, not the simulator's)."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        params: str | Path = "params.yaml",
        scenario: str | None = None,
        split: str = "train",
        data_dir: str | Path | None = None,
        window: str | None = None,
        reward_scale: float = 1.0,
    ):
        from .config import load_settings
        from .control.peak_shaving import with_tuned_residual
        from .errors import DataError, naming_the_run
        from .learning.station_env import make_learner_env

        if split not in SPLITS:
            raise ValueError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
        params = Path(params)
        self.settings = load_settings(params, scenario)
        scenario = self.settings.scenario
        folder = Path(data_dir) if data_dir is not None else params.parent / "data" / scenario / "citylearn"
        folder = folder / split
        if not (folder / "schema.json").is_file():
            raise DataError(
                f"{folder}: no {split} dataset of scenario {scenario} "
                f"(run `evstation --scenario {scenario} build-dataset`)"
            )
        # a policy that corrects the tuned peak_shaving rule needs the tuning its baseline recorded
        try:
            self.settings = with_tuned_residual(self.settings, params.parent / "results" / "scenarios" / scenario)
        except DataError as error:  # the command it suggests, for this scenario
            raise DataError(naming_the_run(str(error), scenario)) from None
        self.scenario, self.split, self.folder = scenario, split, folder
        self.learner = make_learner_env(
            self.settings, folder, reward_scale=reward_scale, window=window or ("train" if split == "train" else "year")
        )
        self.action_space = self.learner.action_space
        self.observation_space = self.learner.observation_space

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        return self.learner.reset(seed=seed, options=options)

    def step(self, action):
        return self.learner.step(action)

    def close(self) -> None:
        self.learner.close()


register_envs()
