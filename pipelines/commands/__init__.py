"""The CLI's verbs (``python -m pipelines VERB``): each reads its parsed arguments, calls the library and prints."""
