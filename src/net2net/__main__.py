"""``python -m net2net``: the same as the ``net2net`` console script."""

import sys

from net2net.cli import main

sys.exit(main())
