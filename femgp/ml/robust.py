"""Input-gradient penalty for robustness: ``loss + lam ||grad_x loss||_2``.

The penalty is per sample and independent of the batch size: with per-sample
losses ``l_i = loss(model(x_i), y_i)`` and ``g_i = grad_{x_i} l_i``, the
objective is

    J = mean_i l_i + lam mean_i ||g_i||_2,

(the norm over all non-batch dimensions), so duplicating a batch changes
nothing. Two ways to get ``grad_theta J``:

``exact``
    double backpropagation (Drucker & LeCun 1992; Ross & Doshi-Velez 2018):
    ``g_i`` is computed with ``create_graph=True`` and ``J`` is
    back-propagated through it.

``finite_difference``
    no second derivatives: ``grad_theta ||g_i|| = H_{theta x} u_i`` with
    ``u_i = g_i / ||g_i||``, and that mixed Hessian-vector product is the
    difference quotient ``(grad_theta l_i(x_i + h u_i) - grad_theta l_i(x_i)) / h``.
    Hence ``grad_theta J ~ (1 - lam/h) grad_theta mean l(x) + (lam/h) grad_theta
    mean l(x + h u)``: one extra forward and backward (at the shifted inputs),
    which draws the same dropout masks as the first (:mod:`femgp.ml.rng`).
    The error is ``O(h)``; it vanishes when ``grad_theta l`` is affine in ``x``
    (e.g. ``l`` a quadratic polynomial in ``(x, theta)`` jointly).

:func:`loss_change_bound` turns a bound on the gradient norm into the
certified first-order bound on the change of the loss under an l2 perturbation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from femgp.errors import InputError
from femgp.ml.eager import eager_model
from femgp.ml.ops import per_sample_norm
from femgp.ml.rng import rng_checkpoint
from femgp.ml.validation import (
    check_batch,
    check_finite_loss,
    check_float_tensor,
    check_lambda,
    check_per_sample_model,
    check_positive,
)

__all__ = [
    "FORMS",
    "InputGradientResult",
    "input_gradient_backward",
    "input_gradient_objective",
    "loss_change_bound",
    "per_sample_loss_and_input_grad",
]

#: A per-sample loss: ``loss_fn(output, target) -> (B,)`` (``reduction="none"``).
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: The two ways to differentiate the penalty.
FORMS: tuple[str, ...] = ("exact", "finite_difference")


@dataclass(frozen=True)
class InputGradientResult:
    """The objective and its parts (detached unless stated).

    Attributes:
        objective: ``mean l + lam mean ||g||``; keeps its graph from
            :func:`input_gradient_objective` (exact form), detached otherwise.
        loss: ``mean_i l_i`` at the clean inputs.
        penalty: ``lam mean_i ||g_i||``.
        grad_norms: ``||g_i||`` per sample, shape ``(B,)``.
    """

    objective: torch.Tensor
    loss: torch.Tensor
    penalty: torch.Tensor
    grad_norms: torch.Tensor


def _per_sample_losses(
    model: Callable[[torch.Tensor], torch.Tensor], loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    losses = loss_fn(model(x), y)
    if not isinstance(losses, torch.Tensor) or losses.shape != (x.shape[0],):
        shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise InputError(
            f"loss_fn must return one loss per sample, shape ({x.shape[0]},), got {shape}; "
            "use reduction='none'"
        )
    return losses


def _check(x: torch.Tensor, y: torch.Tensor, lam: float) -> float:
    check_float_tensor("x", x)
    check_batch("y", y, x.shape[0], of="x", shape=x.shape)
    return check_lambda("lam", lam)


@torch.compiler.disable
def per_sample_loss_and_input_grad(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    create_graph: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample losses ``l_i`` ``(B,)`` and per-sample input gradients ``grad_{x_i} l_i``.

    Differentiates ``sum_i l_i``, so each ``g_i`` is the gradient of the sample's
    own loss (batch-size independent), assuming the model treats samples
    independently: a model with BatchNorm in training mode is refused, naming
    the layer. Under ``torch.compile`` it runs eagerly, and with
    ``create_graph`` a compiled model is evaluated on the module it wraps (see
    :mod:`femgp.ml.eager`).
    """
    check_float_tensor("x", x)
    check_batch("y", y, x.shape[0], of="x", shape=x.shape)
    check_per_sample_model("the model's", model, penalty="input-gradient")
    if create_graph:
        model = eager_model(model, name="the model")
    x = x.detach().requires_grad_(True)
    losses = _per_sample_losses(model, loss_fn, x, y)
    (g,) = torch.autograd.grad(losses.sum(), x, create_graph=create_graph)
    return losses, g


def input_gradient_objective(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lam: float,
) -> InputGradientResult:
    """The exact (double-backprop) objective ``mean l + lam mean ||grad_x l_i||``.

    ``result.objective`` keeps its graph: call ``.backward()`` on it (alone or
    added to other losses). The norm has a zero gradient at a zero gradient.
    """
    lam = _check(x, y, lam)
    losses, g = per_sample_loss_and_input_grad(model, loss_fn, x, y, create_graph=lam > 0)
    norms = per_sample_norm(g)
    loss = losses.mean()
    penalty = lam * norms.mean()
    return InputGradientResult(
        objective=loss + penalty, loss=loss.detach(), penalty=penalty.detach(),
        grad_norms=norms.detach(),
    )


def input_gradient_backward(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lam: float,
    form: str = "finite_difference",
    h: float = 1e-2,
    params: Sequence[torch.Tensor] | None = None,
    check_finite: bool = True,
) -> InputGradientResult:
    """Accumulate ``grad_theta`` of ``mean l + lam mean ||grad_x l_i||`` into ``.grad``.

    Like ``objective.backward()``: gradients are *added* to the parameters'
    ``.grad`` (zero them first), and under DistributedDataParallel the last
    ``backward`` all-reduces them.

    Args:
        model: the network ``x -> output``.
        loss_fn: per-sample loss ``(output, y) -> (B,)``.
        x, y: inputs (floating, batch first) and targets of the same batch size.
        lam: the penalty weight (>= 0).
        form: ``"exact"`` (double backprop) or ``"finite_difference"``.
        h: the finite-difference step along ``g_i/||g_i||``, in input units (> 0).
        params: the parameters to differentiate, the only tensors whose ``.grad``
            changes, in both forms (default: ``model.parameters()`` where they
            require grad).
        check_finite: raise ``FloatingPointError`` on a NaN/inf loss.

    Returns:
        An :class:`InputGradientResult` (detached).
    """
    lam = _check(x, y, lam)
    if form not in FORMS:
        raise InputError(f"unknown form {form!r}; allowed: {', '.join(map(repr, FORMS))}")
    if form == "exact" or lam == 0.0:
        res = input_gradient_objective(model, loss_fn, x, y, lam=lam)
        if check_finite:
            check_finite_loss("the input-gradient objective", res.objective)
        # given ``params``, only they receive gradients, as in the finite-difference form
        res.objective.backward(inputs=None if params is None else list(params))
        return InputGradientResult(
            objective=res.objective.detach(), loss=res.loss, penalty=res.penalty,
            grad_norms=res.grad_norms,
        )
    h = check_positive("h", h)
    check_per_sample_model("the model's", model, penalty="input-gradient")
    if params is None:
        if not isinstance(model, torch.nn.Module):
            raise InputError("params must be given when model is not a torch.nn.Module")
        params = [p for p in model.parameters() if p.requires_grad]
    params = list(params)
    replay = rng_checkpoint([x, *params])  # pass 2 draws pass 1's dropout masks
    # Pass 1: per-sample losses, and in one backward both grad_theta mean l and grad_x l_i.
    xr = x.detach().requires_grad_(True)
    losses = _per_sample_losses(model, loss_fn, xr, y)
    loss = losses.mean()
    if check_finite:
        check_finite_loss("the loss", loss)
    grads = torch.autograd.grad(loss, [xr, *params], allow_unused=True)
    g = grads[0] * x.shape[0]  # per-sample gradients of l_i (undo the mean)
    norms = per_sample_norm(g)
    penalty = lam * norms.mean()
    c1 = 1.0 - lam / h
    with torch.no_grad():
        for p, gp in zip(params, grads[1:], strict=True):
            if gp is None:
                continue
            if p.grad is None:
                p.grad = gp.mul_(c1)  # autograd.grad's result is ours: scale it in place
            else:
                p.grad.add_(gp, alpha=c1)
    # Pass 2: the loss at x + h u, u = g / ||g|| (zero where g = 0), weight lam/h.
    with torch.no_grad():
        safe = torch.where(norms > 0, norms, torch.ones_like(norms))  # g = 0 there: u = 0
        u = g / safe.reshape(-1, *([1] * (g.ndim - 1)))
        x2 = x.detach() + h * u
    replay()
    loss2 = _per_sample_losses(model, loss_fn, x2, y).mean()
    (loss2 * (lam / h)).backward(inputs=params)
    return InputGradientResult(
        objective=(loss + penalty).detach(), loss=loss.detach(), penalty=penalty.detach(),
        grad_norms=norms.detach(),
    )


def loss_change_bound(
    epsilon: float | torch.Tensor,
    grad_norm_bound: float | torch.Tensor,
    *,
    smoothness: float | None = None,
) -> float | torch.Tensor:
    """The certified bound on ``|l(x + delta) - l(x)|`` for ``||delta||_2 <= epsilon``.

    First order (``smoothness=None``): ``epsilon * G``.

    Assumptions, stated precisely:

    * ``l`` is differentiable along every segment ``x + t delta``, ``0 <= t <= 1``
      (for ReLU networks: almost everywhere, with ``l`` Lipschitz; the mean-value
      inequality still holds for the Lipschitz function);
    * ``G`` bounds ``||grad_x l||_2`` **on the whole ball** ``||x' - x|| <= epsilon``
      (not only at ``x``); then ``|l(x + delta) - l(x)| <= epsilon G`` by the
      mean-value theorem, a certificate. If ``G`` is only the gradient norm *at*
      ``x`` (what the penalty makes small), ``epsilon G`` is the first-order
      estimate, exact up to ``O(epsilon^2)``.
    * With ``smoothness = beta`` bounding the spectral norm of the input Hessian
      on the ball (``grad_x l`` is ``beta``-Lipschitz), the bound
      ``epsilon G + beta epsilon^2 / 2`` is certified with ``G`` the gradient norm
      at ``x`` alone (Taylor with remainder).
    * The norm is the Euclidean norm over all input dimensions of one sample
      (the norm the penalty uses); for an l-infinity budget ``epsilon_inf`` on
      ``n`` inputs use ``epsilon = sqrt(n) epsilon_inf``.

    Args:
        epsilon: the perturbation size (>= 0), a float or a tensor (per sample).
        grad_norm_bound: ``G`` (>= 0), a float or a tensor (per sample).
        smoothness: ``beta`` (>= 0), or ``None`` for the first-order bound.

    Returns:
        The bound, a float or a tensor broadcast from the inputs.
    """
    for name, v in (("epsilon", epsilon), ("grad_norm_bound", grad_norm_bound)):
        if isinstance(v, torch.Tensor):
            if not v.is_floating_point():
                raise InputError(f"{name} must be a floating-point tensor, got dtype {v.dtype}")
            if bool((v < 0).any()) or not bool(torch.isfinite(v).all()):
                raise InputError(f"{name} must be finite and >= 0")
        else:
            check_lambda(name, v)
    bound = epsilon * grad_norm_bound
    if smoothness is not None:
        beta = check_lambda("smoothness", smoothness)
        bound = bound + 0.5 * beta * epsilon * epsilon
    return bound
