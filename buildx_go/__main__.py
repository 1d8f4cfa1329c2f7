import sys

from buildx_go.cli import main

sys.exit(main())
