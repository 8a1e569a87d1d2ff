"""femgp.ml: the energy vocabulary's gradient penalties, rendered in torch for learning.

Imports torch (never dolfinx). The modules:

- :mod:`femgp.ml.ops`: :class:`TorchOps`, the torch ops namespace
  (:data:`TORCH_OPS`, :data:`TORCH_POINTS_OPS`) and the per-sample convention.
- :mod:`femgp.ml.penalties`: WGAN-GP, WGAN-LP, R1, R2, R1 + R2 in one double
  backward, DRAGAN, lazy regularisation, conditional critics, AMP.
- :mod:`femgp.ml.training`: WGAN critic and generator steps (AMP, DDP), the
  R1 + R2 discriminator step (exact or lazy).
- :mod:`femgp.ml.eager`: double backward under ``torch.compile``.
- :mod:`femgp.ml.robust`: the input-gradient penalty (exact and finite-difference)
  and the certified loss-change bound; :mod:`femgp.ml.attacks`: FGSM and PGD.
- :mod:`femgp.ml.gradnorm`: the parameter-gradient-norm penalty (exact and
  Hessian-free; SAM) as an optimiser wrapper, and gradient clipping.
- :mod:`femgp.ml.rng`: the finite-difference forms' second pass replays the
  first one's random draws (dropout masks).
- :mod:`femgp.ml.weight_decay`: Adam+L2 versus AdamW, per-parameter.
- :mod:`femgp.ml.toy_data`, :mod:`femgp.ml.capacity`: data and experiments of the demos.
- :mod:`femgp.ml.digits`, :mod:`femgp.ml.sample_metrics`, :mod:`femgp.ml.digits_gan`,
  :mod:`femgp.ml.digits_robust`: scikit-learn's 8x8 digits, sample-quality
  metrics, and the digits experiments.

See ``docs/ml.md``.
"""

from femgp.ml.attacks import fgsm, pgd
from femgp.ml.gradnorm import GradientClipping, GradientNormPenalty, global_grad_norm
from femgp.ml.ops import (
    TORCH_OPS,
    TORCH_POINTS_OPS,
    TorchOps,
    per_sample_density,
    per_sample_norm,
    safe_norm,
    safe_sqrt,
)
from femgp.ml.penalties import (
    LazyRegularizer,
    critic_input_gradient,
    dragan_penalty,
    interpolate,
    r1_penalty,
    r1_r2,
    r1_term,
    r2_penalty,
    wgan_gp,
    wgan_gp_term,
    wgan_lp,
)
from femgp.ml.robust import input_gradient_backward, input_gradient_objective, loss_change_bound
from femgp.ml.training import critic_step, generator_step, r1_r2_step
from femgp.ml.weight_decay import EffectiveDecay, effective_weight_decay

__all__ = [
    "TORCH_OPS",
    "TORCH_POINTS_OPS",
    "EffectiveDecay",
    "GradientClipping",
    "GradientNormPenalty",
    "LazyRegularizer",
    "TorchOps",
    "critic_input_gradient",
    "critic_step",
    "dragan_penalty",
    "effective_weight_decay",
    "fgsm",
    "generator_step",
    "global_grad_norm",
    "input_gradient_backward",
    "input_gradient_objective",
    "interpolate",
    "loss_change_bound",
    "per_sample_density",
    "per_sample_norm",
    "pgd",
    "r1_penalty",
    "r1_r2",
    "r1_r2_step",
    "r1_term",
    "r2_penalty",
    "safe_norm",
    "safe_sqrt",
    "wgan_gp",
    "wgan_gp_term",
    "wgan_lp",
]
