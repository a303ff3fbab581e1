"""The embedded simulator: InsightSentry ``/live``, ``/newsfeed`` and REST, and StockNews
``/ws``, served over real WebSockets on loopback. Imports no Textual.

Use :func:`tui.sim.server.run_simulator` in-process, :class:`tui.sim.server.SimulatorThread`
for a market on its own thread, or ``marketpane sim`` standalone.
"""
