"""Run the command line with ``python -m egate``, exactly as the ``egate`` script does."""

import sys

from egate.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
