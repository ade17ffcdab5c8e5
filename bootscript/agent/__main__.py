"""`python3 -m bootscript.agent`: boot this instance's release, exit with the phase's code."""

import sys

from .boot import main

sys.exit(main())
