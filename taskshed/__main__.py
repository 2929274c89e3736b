"""``python -m taskshed`` is the ``taskshed`` command."""

import sys

from taskshed.cli.main import main

sys.exit(main())
