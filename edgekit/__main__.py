"""``python -m edgekit`` runs the ``edgekit`` command."""

import sys

from edgekit._cli import main

sys.exit(main())
