"""Alignment: bring languages into one space (sentences: ranking, distillation; words: mappings)."""
