"""ml_assets: a monitored, self-retraining churn model as a Dagster asset graph."""

import warnings

# The project uses Dagster APIs marked beta or preview on purpose (backfill policies, pandera
# types, pools); their notices are for library authors and repeat once per code-location
# load, burying what a user needs to read on the CLI. Matched by message so that importing
# the package does not import dagster.
warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
