"""Composition root: settings, TOML defaults, the command line and the service wiring."""
