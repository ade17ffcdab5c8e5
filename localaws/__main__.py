"""`python -m localaws`: run the embedded local AWS in the foreground."""

from localaws.main import exit_now, main

exit_now(main())
