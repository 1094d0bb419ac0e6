"""Where the real exports live: shared/data beside the repository (developer machines and CI
alike), or wherever SLA_SHARED_DATA points."""

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("SLA_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
