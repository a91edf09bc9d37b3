"""Subcommands of the ``anomaly-seg`` CLI (one module each: ``add_arguments`` and ``run``)."""
