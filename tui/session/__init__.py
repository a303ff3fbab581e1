"""The dashboard's state and actions, with no Textual: a view drives a session by commands
and draws its batches (see ``docs/architecture.md``)."""
