"""The churn example: a subscription business's daily customer snapshots (spec.yaml), the
derived features (features.py) and the synthetic generator (generator.py)."""
