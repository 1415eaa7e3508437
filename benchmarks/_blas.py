"""``--threads N`` for the benchmarks: BLAS threads must be chosen before numpy is imported.

On a 2-core machine whose other core is busy, multithreaded OpenBLAS can slow down many-fold
(it spins waiting for the busy core): compare runs made on a quiet machine, or use --threads 1.
"""

from __future__ import annotations

import os


def threads_from_argv(argv: list[str]) -> list[str]:
    """Export ``--threads N`` (or ``--threads=N``) to OpenBLAS/OpenMP/MKL; return the rest."""
    rest, i = [], 0
    while i < len(argv):
        arg, value = argv[i], None
        if arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        elif arg == "--threads" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 1
        else:
            rest.append(arg)
        if value is not None:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value
        i += 1
    return rest
