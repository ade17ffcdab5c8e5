"""`python -m localaws`: run the embedded local AWS in the foreground."""

import sys

from localaws.main import main

sys.exit(main())
