"""``python -m bookker_sync``: the operator CLI (see bookker_sync/cli)."""

import sys

from bookker_sync.cli.main import main

sys.exit(main())
