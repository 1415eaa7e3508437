"""The engine: Tensors that record how they were made, and reverse and forward mode over them.

Read it in this order:

1. ``tensor.py``: the Tensor, its operators and methods;
2. ``function.py``: how an op records itself in the graph (``Function.apply``);
3. ``ops.py``: the primitive ops, a table of derivatives (each op's backward and tangent rule);
4. ``backprop.py``: the reverse walk, and :func:`unbroadcast`, the one place broadcasting is undone.

Below them: ``grad_mode.py`` (``no_grad``, per thread) and ``errors.py`` (the engine's two errors
and the checks of user input). Beside them: ``rule_math.py`` (functions for writing a rule once,
on arrays and Tensors), ``speed.py`` (numpy calls chosen for speed) and ``memory.py`` (memory
reused from step to step; ``keep_freed_memory()`` is called by ``fit`` and the command line,
never at import).
"""
