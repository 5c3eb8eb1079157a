"""Allow ``python -m lamsach``."""

from lamsach.cli import main

main()
