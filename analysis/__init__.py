"""Pure functions over text: normalisation, PII masking, sentiment, topics, severity, duplicates, events.

Nothing in this package touches a database, the network or the ``config`` package: rules and
models are passed in as plain values.
"""
