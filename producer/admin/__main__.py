"""``python -m producer.admin``: the command line of :mod:`producer.admin.cli`."""

from __future__ import annotations

import sys

from producer.admin.cli import main

if __name__ == "__main__":
    sys.exit(main())
