"""marketpane: a terminal dashboard for live market data and financial news."""

__version__ = "0.1.0"
