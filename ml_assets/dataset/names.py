"""Names derived from a dataset spec: asset keys, warehouse tables, MLflow names.

Computed here and imported everywhere else (assets, jobs, sensors, checks, lineage SQL and
tests), so that a dataset's names follow one rule (DESIGN.md, "Dataset specification").
"""

from __future__ import annotations

from dataclasses import dataclass

AssetKeyParts = tuple[str, ...]


@dataclass(frozen=True)
class DatasetNames:
    """Asset keys (tuples of str), tables and MLflow names of one dataset."""

    name: str
    entity: str
    prefix: str | None
    raw: AssetKeyParts
    features: AssetKeyParts
    training_set: AssetKeyParts
    model: AssetKeyParts
    evaluation: AssetKeyParts
    champion: AssetKeyParts
    predictions: AssetKeyParts
    drift: AssetKeyParts
    model_name: str
    experiment_name: str
    probability_column: str
    prediction_column: str

    @staticmethod
    def table(key: AssetKeyParts) -> str:
        """The DuckDB table of an asset key: ``<group>.<last part>`` (the part before the last
        is the schema, whatever prefix the key has)."""
        if len(key) < 2:
            raise ValueError(f"asset key {key!r} has no group part; expected (group, name).")
        return f"{key[-2]}.{key[-1]}"

    @property
    def raw_table(self) -> str:
        return self.table(self.raw)

    @property
    def features_table(self) -> str:
        return self.table(self.features)

    @property
    def training_table(self) -> str:
        return self.table(self.training_set)

    @property
    def evaluation_table(self) -> str:
        return self.table(self.evaluation)

    @property
    def predictions_table(self) -> str:
        return self.table(self.predictions)

    @property
    def drift_table(self) -> str:
        return self.table(self.drift)

    @property
    def asset_keys(self) -> dict[str, AssetKeyParts]:
        """Every domain asset key by role (raw, features, ... drift)."""
        return {
            "raw": self.raw,
            "features": self.features,
            "training_set": self.training_set,
            "model": self.model,
            "evaluation": self.evaluation,
            "champion": self.champion,
            "predictions": self.predictions,
            "drift": self.drift,
        }


def dataset_names(name: str, entity: str, prefix: str | None = None) -> DatasetNames:
    """The names of a dataset called ``name`` whose rows describe one ``entity`` each.

    Keys are ``raw/<entity>_snapshots``, ``features/<entity>_features``,
    ``training/training_set``, ``training/<name>_model``, ``evaluation/evaluation_report``,
    ``registry/champion_model``, ``scoring/<name>_predictions`` and
    ``monitoring/drift_report``. A ``prefix`` (for a dataset loaded beside the default one)
    is put in front of every key; the table stays ``<group>.<last part>``, so side-by-side
    datasets keep separate warehouse files (each location has its own data folder).
    """
    lead: AssetKeyParts = (prefix,) if prefix else ()

    def key(*parts: str) -> AssetKeyParts:
        return lead + parts

    return DatasetNames(
        name=name,
        entity=entity,
        prefix=prefix or None,
        raw=key("raw", f"{entity}_snapshots"),
        features=key("features", f"{entity}_features"),
        training_set=key("training", "training_set"),
        model=key("training", f"{name}_model"),
        evaluation=key("evaluation", "evaluation_report"),
        champion=key("registry", "champion_model"),
        predictions=key("scoring", f"{name}_predictions"),
        drift=key("monitoring", "drift_report"),
        model_name=f"{name}_model",
        experiment_name=name,
        probability_column=f"{name}_probability",
        prediction_column=f"predicted_{name}",
    )
