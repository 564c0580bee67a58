"""``python -m sandbox doctor`` / ``python -m sandbox build-image``."""

import sys

from .cli import main

sys.exit(main())
