"""The `policy-tagger` command line (the top layer: it may import training and service, not the reverse)."""
from policy_tagger.cli.main import main

__all__ = ["main"]
