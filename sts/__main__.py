"""`python -m sts` runs the command line."""

from sts.cli import main

raise SystemExit(main())
