"""`python -m herder`: the same as the `herder` command."""

import sys

from herder.cli import main

sys.exit(main())
