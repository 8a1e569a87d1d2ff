"""Replay a forward pass's random draws (dropout masks) in a second forward pass.

The finite-difference forms (:mod:`femgp.ml.robust`, :mod:`femgp.ml.gradnorm`)
difference *one* loss at two points. A model with dropout in training mode
draws a new mask in every forward pass, so two plain passes would difference
two different losses, and the quotient would carry the masks' difference
divided by the step (a gradient error growing like ``1/h``). Restoring the
global CPU generator and the CUDA generators of the devices involved between
the passes makes the second pass draw exactly what the first drew; a closure
that samples its minibatch from the global generator gets the same minibatch
too. Generators the caller creates and passes explicitly, and those of other
accelerators, are not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

__all__ = ["rng_checkpoint"]


def rng_checkpoint(tensors: Iterable[torch.Tensor]) -> Callable[[], None]:
    """Save the global CPU generator and those of the CUDA devices of ``tensors``.

    Returns:
        A function that restores the saved states (callable any number of times).
    """
    cuda = sorted({t.device for t in tensors if t.device.type == "cuda"}, key=str)
    cpu_state = torch.get_rng_state()
    cuda_states = [(d, torch.cuda.get_rng_state(d)) for d in cuda]

    def restore() -> None:
        torch.set_rng_state(cpu_state)
        for d, state in cuda_states:
            torch.cuda.set_rng_state(state, d)

    return restore
