"""Positions: portfolios of lots (:mod:`tui.portfolio.model`), their P&L in decimals
(:mod:`tui.portfolio.pnl`) and CSV import (:mod:`tui.portfolio.csvio`). No engine, no Textual.
"""
