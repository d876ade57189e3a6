"""Building the base encoder, fine-tuning, and evaluation for policy-tagger."""
