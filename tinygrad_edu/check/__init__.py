"""The student workbench: check hand-written gradients and custom ops, and name the mistake.

* :func:`check_vjp`: a backward function against a reference forward written with our ops;
* :func:`check_gradients`: hand-derived gradients of a scalar loss against its reference;
* :func:`check_backprop`: a whole hand-written backward pass, node by node from the loss back,
  pointing at the first wrong gradient (a :class:`BackpropReport`);
* :func:`check_function`: a user-defined :class:`~tinygrad_edu.Function` against finite
  differences (its gradients' number, shapes and dtypes, broadcasting, its tangent rule).

Each returns a :class:`CheckReport`: ``.passed``, ``.diagnosis`` (a :class:`Diagnosis` with a
stable ``kind`` from :data:`DIAGNOSES`, None when passed), ``.results`` per input, ``.seed``
(the draws vary from call to call; ``seed=report.seed`` replays them), ``str()``, HTML in
Jupyter and ``.plot()``.
"""

from .backprop import check_backprop
from .backprop_report import STATUSES, BackpropReport, NodeResult
from .custom_op import check_function
from .diagnose import DIAGNOSES, EXACT, NUMERIC, Candidate, Clues, Diagnosis, Tolerance, diagnose
from .report import CheckReport, InputResult
from .vjp import check_gradients, check_vjp

__all__ = [
    "DIAGNOSES",
    "EXACT",
    "NUMERIC",
    "STATUSES",
    "BackpropReport",
    "Candidate",
    "CheckReport",
    "Clues",
    "Diagnosis",
    "InputResult",
    "NodeResult",
    "Tolerance",
    "check_backprop",
    "check_function",
    "check_gradients",
    "check_vjp",
    "diagnose",
]
