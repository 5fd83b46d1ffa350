"""The three stable-baselines3 agents with the production settings of params.yaml `agents`.

Every setting is applied; where stable-baselines3 has no option for one, it is implemented here:
- A2C's Huber value loss: `HuberA2C` replaces the mean-squared value loss by smooth L1 (Huber, delta 1).
- entropy coefficients decaying linearly (A2C, PPO): `EntropySchedule`, a callback that sets the
  coefficient from the training progress before every rollout, so a resumed run follows the same
  schedule as an uninterrupted one (progress is counted on the model's total step counter).
- SAC's gradient clipping: `ClippedSAC` clips the gradient norm of actor, critic and entropy
  coefficient before each optimiser step.
- SAC's start: stable-baselines3 gives SAC's actor a mean layer with default initial weights (its
  deterministic action starts anywhere in the box) and a log-std layer starting near 0 (a standard
  deviation of ~1 before the squash: nearly uniform actions). `ClippedSAC` starts the mean at ~0,
  which with the residual is the least-laxity rule, and the log std at `log_std_init`, as A2C and
  PPO do: the exploration then starts around the rule, in proportion to a correction.
- A2C's reward scale: applied by the training environment (`env.make_training_env`).
- the critic's warm-up (`critic_warmup_steps`, all three): residual policy learning's burn-in (Silver
  et al. 2018): the actor stays at its start - the rule - while the critic learns the rule's values,
  so the first policy updates follow a trained critic rather than an untrained one's noise.
  `CriticWarmup` (A2C, PPO) takes the actor's parameters out of the gradient; `ClippedSAC` skips its
  actor's optimiser steps. Counted on the model's step counter, so a resumed run holds the same steps.
Settings that do not apply: A2C in stable-baselines3 takes the whole rollout (n_steps x n_envs)
as one batch, so it has no batch size; SAC's `episodes` is turned into its step budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3 import A2C, PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from .. import registry
from ..config import Settings

# the learners stable-baselines3 trains (`es` has a training loop of its own: learning/es.py)
AGENTS = tuple(name for name in registry.names("learner") if registry.entry(name).trainer is None)
OFF_POLICY = ("sac",)


def linear_schedule(start: float, end: float = 0.0) -> Callable[[float], float]:
    """A value going linearly from `start` (progress_remaining 1) to `end` (progress_remaining 0),
    and held there: a last rollout that runs past the budget (stable-baselines3's progress then goes
    below 0) keeps `end` instead of going past it (a learning rate below 0)."""

    def value(progress_remaining: float) -> float:
        progress = min(max(progress_remaining, 0.0), 1.0)
        return end + (start - end) * progress

    return value


def learning_rate(value: float, schedule: str) -> Callable[[float], float] | float:
    return linear_schedule(value) if schedule == "linear" else value


class HuberA2C(A2C):
    """A2C whose value loss is Huber (smooth L1) instead of mean squared error; otherwise
    stable-baselines3's own `A2C.train` step for step (one gradient step over the rollout)."""

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        for rollout_data in self.rollout_buffer.get(batch_size=None):
            actions = rollout_data.actions
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.long().flatten()
            values, log_prob, entropy = self.policy.evaluate_actions(rollout_data.observations, actions)
            values = values.flatten()
            advantages = rollout_data.advantages
            if self.normalize_advantage:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            policy_loss = -(advantages * log_prob).mean()
            value_loss = F.smooth_l1_loss(rollout_data.returns, values)
            entropy_loss = -th.mean(-log_prob) if entropy is None else -th.mean(entropy)
            loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/value_loss", value_loss.item())
        self.logger.record("train/ent_coef", float(self.ent_coef))


class ClippedSAC(SAC):
    """SAC with the gradient norm of every network clipped to `max_grad_norm` before each step."""

    def __init__(
        self,
        *args,
        max_grad_norm: float | None = None,
        log_std_init: float | None = None,
        critic_warmup_steps: int = 0,
        **kwargs,
    ):
        # None only while stable-baselines3's `load` rebuilds the model: it restores the saved values
        self.max_grad_norm = max_grad_norm
        self.log_std_init = log_std_init
        self.critic_warmup_steps = critic_warmup_steps
        super().__init__(*args, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        if self.log_std_init is not None:
            start_at_zero_action(self.actor.mu, self.actor.log_std, self.log_std_init)
        self._clip_before_step(self.actor.optimizer, self.actor.parameters, self._actor_warming_up)
        self._clip_before_step(self.critic.optimizer, self.critic.parameters)
        if self.ent_coef_optimizer is not None:
            self._clip_before_step(self.ent_coef_optimizer, lambda: [self.log_ent_coef])

    def _actor_warming_up(self) -> bool:
        return self.num_timesteps < self.critic_warmup_steps

    def _clip_before_step(
        self, optimizer: th.optim.Optimizer, parameters: Callable, skip: Callable[[], bool] = lambda: False
    ) -> None:
        step = optimizer.step

        def clipped_step(*args, **kwargs):
            if skip():
                return None
            th.nn.utils.clip_grad_norm_(list(parameters()), self.max_grad_norm)
            return step(*args, **kwargs)

        optimizer.step = clipped_step


@th.no_grad()
def start_at_zero_action(mean: th.nn.Linear, log_std: th.nn.Linear | None = None, log_std_init: float = 0.0) -> None:
    """The action layer's weights and bias set to 0, so the untrained deterministic action is exactly
    0 (the residual rule) in every state; gradients still reach the weights (they are the layer's
    inputs), so learning starts at once. stable-baselines3's own small initial weights (gain 0.01)
    left a state-dependent offset that cost 11-12 t a year of needless import in station_only.
    A squashed Gaussian's state-dependent log std layer starts flat at `log_std_init`."""
    mean.weight.zero_()
    mean.bias.zero_()
    if log_std is not None:
        log_std.weight.zero_()
        log_std.bias.fill_(log_std_init)


class BeforeEveryRollout(BaseCallback):
    """A setting of the model applied when training starts (a resumed run too) and before every
    rollout, from the model's own counters: subclasses say what in `_apply`."""

    def _apply(self) -> None:
        raise NotImplementedError

    def _on_training_start(self) -> None:
        self._apply()

    def _on_rollout_start(self) -> None:
        self._apply()

    def _on_step(self) -> bool:
        return True


class CriticWarmup(BeforeEveryRollout):
    """Holds an on-policy actor (its network, action layer and log std) at its start for the first
    `steps` steps: before every rollout its parameters leave the gradient while the model's step
    counter is below `steps`, so only the value function learns from those rollouts."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def _apply(self) -> None:
        learning = self.model.num_timesteps >= self.steps
        for parameter in actor_parameters(self.model.policy):
            parameter.requires_grad_(learning)


def actor_parameters(policy) -> list[th.nn.Parameter]:
    """An on-policy ActorCriticPolicy's actor: its own layers, the action layer and the log std
    (the feature extractor, a flatten, has no parameters; the value layers are the critic)."""
    return [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters(), policy.log_std]


class EntropySchedule(BeforeEveryRollout):
    """Sets the entropy coefficient from the progress before every rollout: start -> end linearly."""

    def __init__(self, start: float, end: float):
        super().__init__()
        self.schedule = linear_schedule(start, end)

    def _apply(self) -> None:
        self.model.ent_coef = float(self.schedule(self.model._current_progress_remaining))
        self.logger.record("train/ent_coef", self.model.ent_coef)


@dataclass(frozen=True)
class Learner:
    """One agent under one run's settings: its params (`agents.<name>`) looked up once, and everything
    training needs of it (budget, rollout, builder, callbacks, how to load it back)."""

    name: str
    config: Any

    @classmethod
    def of(cls, agent: str, settings: Settings) -> Learner:
        return cls(agent, getattr(settings.agents, agent))

    @property
    def off_policy(self) -> bool:
        return self.name in OFF_POLICY

    @property
    def rollout_steps(self) -> int:
        """Steps one rollout collects: training stops at the first rollout end at or past the budget."""
        return self.config.train_freq if self.off_policy else self.config.n_steps * self.config.n_envs

    def total_timesteps(self, episode_steps: int) -> int:
        """The step budget: A2C and PPO give it directly, SAC as a number of whole episodes."""
        return self.config.episodes * episode_steps if self.off_policy else self.config.total_timesteps

    @property
    def n_envs(self) -> int:
        return 1 if self.off_policy else self.config.n_envs

    @property
    def reward_scale(self) -> float:
        return getattr(self.config, "reward_scale", 1.0)

    def build(self, env, seed: int, device: str, budget: int):
        """A fresh model with every production setting of params `agents.<name>` applied, made by the
        builder the registry names for the agent."""
        build = registry.resolve(registry.entry(self.name).build)
        return build(self.config, env, seed=seed, device=device, budget=budget)

    @property
    def model_class(self):
        return MODEL_CLASSES[self.name]

    def rebuilt_on_load(self) -> dict:
        """The model's schedules as the builder makes them, to load a checkpoint with: the functions
        pickled in it load back as equal functions that pickle to other bytes, and a resumed run would
        then save a different-looking model than an uninterrupted one."""
        rebuilt = {
            "learning_rate": learning_rate(
                self.config.learning_rate, getattr(self.config, "learning_rate_schedule", "constant")
            )
        }
        if self.name == "ppo":
            rebuilt["clip_range"] = self.config.clip_range
        return rebuilt

    def schedule_callbacks(self) -> list[BaseCallback]:
        if self.off_policy:
            return []
        warmup = [CriticWarmup(self.config.critic_warmup_steps)] if self.config.critic_warmup_steps else []
        return [*warmup, EntropySchedule(self.config.ent_coef_start, self.config.ent_coef_end)]


def build_a2c(config, env, *, seed: int, device: str, budget: int) -> HuberA2C:
    model = HuberA2C(
        "MlpPolicy",
        env,
        n_steps=config.n_steps,
        gamma=config.gamma,
        ent_coef=config.ent_coef_start,
        learning_rate=learning_rate(config.learning_rate, config.learning_rate_schedule),
        policy_kwargs={"net_arch": list(config.net_arch), "log_std_init": config.log_std_init},
        seed=seed,
        device=device,
        verbose=0,
    )
    start_at_zero_action(model.policy.action_net)
    return model


def build_ppo(config, env, *, seed: int, device: str, budget: int) -> PPO:
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=config.n_steps,
        ent_coef=config.ent_coef_start,
        target_kl=config.target_kl,
        clip_range=config.clip_range,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        use_sde=config.use_sde,
        learning_rate=learning_rate(config.learning_rate, config.learning_rate_schedule),
        policy_kwargs={
            "net_arch": {"pi": list(config.net_arch), "vf": list(config.net_arch)},
            "log_std_init": config.log_std_init,
        },
        seed=seed,
        device=device,
        verbose=0,
    )
    start_at_zero_action(model.policy.action_net)
    return model


def build_sac(config, env, *, seed: int, device: str, budget: int) -> ClippedSAC:
    """SAC's replay buffer is allocated whole up front and saved whole: it is sized to the smaller of
    `buffer_size` and the step budget, which keeps every transition exactly as the larger buffer
    would (it never fills) without allocating or saving memory that can never be used."""
    return ClippedSAC(
        "MlpPolicy",
        env,
        batch_size=config.batch_size,
        buffer_size=min(config.buffer_size, budget),
        learning_rate=config.learning_rate,
        ent_coef=f"auto_{config.ent_coef_init}",
        learning_starts=config.learning_starts,
        train_freq=config.train_freq,
        gradient_steps=config.gradient_steps,
        max_grad_norm=config.max_grad_norm,
        log_std_init=config.log_std_init,
        critic_warmup_steps=config.critic_warmup_steps,
        policy_kwargs={"net_arch": list(config.net_arch)},
        seed=seed,
        device=device,
        verbose=0,
    )


MODEL_CLASSES = {"a2c": HuberA2C, "ppo": PPO, "sac": ClippedSAC}  # what a saved model of each loads as
