"""Subcommands of ``python -m training``."""
