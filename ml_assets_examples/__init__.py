"""Example datasets for ml_assets: each folder holds a spec, its derive function and the step
that makes its table. Nothing in the generic ``ml_assets`` package imports them."""
