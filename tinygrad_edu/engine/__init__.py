"""The engine: Tensors that record how they were made, and reverse and forward mode over them.

Read it in this order:

1. ``tensor.py``: the Tensor, its operators and methods;
2. ``function.py``: how an op records itself in the graph (``Function.apply``);
3. ``ops.py``: the primitive ops, a table of derivatives (each op's backward and tangent rule);
4. ``backprop.py``: the reverse walk, and :func:`unbroadcast`, the one place broadcasting is undone.

Below them: ``grad_mode.py`` (``no_grad``, per thread) and ``errors.py`` (the engine's two errors
and the checks of user input).
"""

from .speed import keep_freed_memory

keep_freed_memory()  # big arrays are reused from step to step, without page faults (speed.py)
