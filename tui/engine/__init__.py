"""The feed engine: supervisors that own the sockets, keys, the subscription budget, and the
market store. Imports no Textual; the app, the benchmark and the tests drive it alike."""
