"""The fleet: hubs on many hosts sharing one upstream per account through NATS.

One hub per account holds a JetStream key-value lease and the upstream sockets (the leader);
the others (followers) are fed the leader's decoded events over NATS subjects and serve their
panes as a local hub does. No Textual here; ``nats-py`` is imported only when a broker is set.
"""
