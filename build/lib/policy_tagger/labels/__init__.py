"""The label set (labels.json) as package data: `importlib.resources.files("policy_tagger.labels")`."""
