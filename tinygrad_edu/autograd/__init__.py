"""Autodiff beyond ``loss.backward()``, with PyTorch's names.

* :func:`grad` -- the gradients of outputs with respect to inputs, returned as Tensors; with
  ``create_graph=True`` they carry their own graph and can be differentiated again, to any order.
* :mod:`forward_ad` -- forward mode: tangents carried along with the values in one sweep.
* :mod:`functional` -- ``vjp``, ``jvp``, ``hvp``, ``jacobian``, ``hessian`` of a function.
"""

from . import forward_ad, functional
from .reverse import grad

__all__ = ["forward_ad", "functional", "grad"]
