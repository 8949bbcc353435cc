"""``python -m vocbench``."""

import sys

from vocbench.cli import main

sys.exit(main())
