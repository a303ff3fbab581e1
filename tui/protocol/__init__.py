"""Typed wire models and frame dispatch for every endpoint marketpane speaks.

Nothing in this package imports Textual; it is shared by the engine, the simulator,
the benchmark and the tests.
"""
