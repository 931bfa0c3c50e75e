"""`python -m sd_operator.cli`, as the console script."""

import sys

from sd_operator.cli.main import main

sys.exit(main())
