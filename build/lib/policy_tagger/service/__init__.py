"""policy-tagger: tag Chinese poverty-alleviation paragraphs by intervention type."""
__version__ = "0.1.0"
