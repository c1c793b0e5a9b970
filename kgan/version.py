"""kgan's version (read by setup.cfg without importing the package)."""

VERSION = "0.1.0"
