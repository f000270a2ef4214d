"""ddrcore: the DDR-ID anomaly-detection engine behind ddrid (no Qt here)."""

__version__ = "0.2.0"
