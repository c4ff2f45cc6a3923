"""``python -m pytest_energy``: the ``pytest-energy`` command."""

import sys

from .cli import main

sys.exit(main())
