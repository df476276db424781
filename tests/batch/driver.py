"""`python -m tests.batch.driver batch ...`: the CLI with the batch command registered.

Until `summarizer/cli/__init__.py` imports `summarizer.cli.batch` itself, subprocess tests need
this to reach the command the way users will.
"""

import summarizer.cli.batch  # noqa: F401
from summarizer.cli import main

main()
