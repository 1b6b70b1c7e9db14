"""Example datasets for ml_assets: each folder holds a spec, its derive function and the
code that produces its landing files. Nothing in ``ml_assets`` imports these modules; a spec
names its derive function by import path."""
