"""Alerts: rules over market data that fire with or without a pane open.

The grammar (:mod:`tui.alerts.grammar`), the values (:mod:`tui.alerts.model`), the book that
evaluates them (:mod:`tui.alerts.book`) and the delivery channels (:mod:`tui.alerts.deliver`).
The engine's monitor (:mod:`tui.engine.alerting`) feeds the book from the store. Nothing here
imports the engine or Textual.
"""
