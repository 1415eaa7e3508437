"""``python -m tinygrad_edu``: the ``tinygrad-edu`` command line."""

import sys

from .cli import main

sys.exit(main())
