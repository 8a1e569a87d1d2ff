"""Double backward under ``torch.compile``: run the input gradient eagerly, never silently wrong.

PyTorch's compiled graphs (AOTAutograd, every backend but ``eager``) have a
backward that cannot itself be differentiated: back-propagating a gradient
penalty through a compiled critic raises "torch.compile with aot_autograd does
not currently support double backward" (PyTorch issue #91469). femgp handles
the two ways a user compiles:

* ``torch.compile(critic)``: :func:`eager_model` returns the module the
  compiled one wraps (``_orig_mod``), and the penalty's forward and double
  backward run on it. The values and gradients are those of eager mode; the
  loss's own forward keeps the compiled graph.
* ``torch.compile(train_step)``: the functions that take an input gradient are
  wrapped in :func:`torch.compiler.disable`, so that Dynamo runs them eagerly
  (a graph break) and compiles the rest of the step, whose backward is only a
  first-order one.

A critic with a compiled *submodule* cannot be unwrapped safely (the submodule
may be shared); :func:`eager_model` refuses it with an ``InputError`` naming the
submodule and saying what to do.
"""

from __future__ import annotations

from typing import Any

import torch

from femgp.errors import InputError

__all__ = ["eager_model", "is_compiled_module"]


def is_compiled_module(model: Any) -> bool:
    """Whether ``model`` is the module returned by ``torch.compile(module)``."""
    return isinstance(model, torch.nn.Module) and isinstance(
        getattr(model, "_orig_mod", None), torch.nn.Module
    ) and type(model).__name__ == "OptimizedModule"


def eager_model(model: Any, *, name: str = "the critic") -> Any:
    """``model`` with a top-level ``torch.compile`` wrapper removed (same parameters).

    Raises:
        InputError: a submodule of ``model`` is compiled (its backward cannot be
            differentiated again).
    """
    while is_compiled_module(model):
        model = model._orig_mod
    if isinstance(model, torch.nn.Module):
        for sub_name, sub in model.named_modules():
            if sub_name and is_compiled_module(sub):
                raise InputError(
                    f"{name} has a torch.compile'd submodule {sub_name!r}; a gradient penalty "
                    "needs a double backward, which compiled graphs do not support. Compile "
                    "the whole model instead (femgp then evaluates the penalty on the eager "
                    "module), or use a finite-difference form where one exists"
                )
    return model
