"""``python -m scripts.train``: ``make train`` (the launcher itself is ``scripts.train.cli``)."""

import sys

from scripts.train.cli import main

sys.exit(main())
