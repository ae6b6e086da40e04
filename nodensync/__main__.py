import sys

from nodensync.cli import main

sys.exit(main())
