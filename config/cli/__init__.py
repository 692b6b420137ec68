"""The ``yuqing`` command line: one module per area, each exposing ``register(app)``."""
