import sys

from pprlib.cli import main

sys.exit(main())
