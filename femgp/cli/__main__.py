"""``python -m femgp.cli``: the ``femgp`` command."""

import sys

from femgp.cli.command import main

sys.exit(main())
