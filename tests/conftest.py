from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "data" / "datasets" / "mini-example"
SHARED = ROOT.parent / "shared" / "data"
HGC = SHARED / "hgc_dev"
UCI = SHARED / "uci_hand"


@pytest.fixture
def mini_root() -> Path:
    return MINI


def need(path: Path):
    """Skip cleanly where ../shared/data is not present."""
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present")
