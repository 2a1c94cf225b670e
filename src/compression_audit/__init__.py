"""compression-audit: what model compression changes beyond test accuracy."""

__version__ = "0.1.0"
