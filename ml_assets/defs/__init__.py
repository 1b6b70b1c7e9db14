"""Where `dg scaffold defs` puts new definitions. The project's definitions live in
ml_assets/definitions.py (the code location's entry point); this package is empty."""
