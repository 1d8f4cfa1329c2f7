"""Dockerfiles: the user's read as BuildKit reads it (parse.py), its Go stages classified
(stages.py) and adapted to cross-compile (adapt.py), or buildx-go's own generated
(generate.py). Pure: text in, text out."""
