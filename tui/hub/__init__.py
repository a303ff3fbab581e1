"""The hub: one process per user and account that owns the upstream sockets, keys, budget and
store, and serves any number of panes over a Unix socket (no Textual here)."""
