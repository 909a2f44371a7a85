"""`python -m crisol` is the `crisol` command."""

import sys

from crisol.cli import main

sys.exit(main())
