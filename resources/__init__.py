"""ddrid's bundled resources (demo data, icons), installed as ``ddrid_resources``."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO = ROOT / "demo"
ICONS = ROOT / "icons"
