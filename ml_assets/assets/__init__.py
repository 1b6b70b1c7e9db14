"""Thin Dagster wrappers, one module per asset group."""
