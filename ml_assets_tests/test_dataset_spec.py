"""The dataset spec: the churn spec loads with today's names, and every spec error gets its
own line naming the file, the key and what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ml_assets import settings
from ml_assets.dataset import (
    SpecError,
    TargetValueError,
    active_spec,
    dataset_names,
    load_spec,
    spec_problems,
    target_to_event,
)
from ml_assets_tests.conftest import CHURN_LANDING_COLUMNS

CHURN_SPEC = settings.PROJECT_ROOT / "ml_assets_examples" / "churn" / "spec.yaml"


def test_default_spec_is_the_bundled_churn_spec(monkeypatch):
    monkeypatch.delenv("ML_ASSETS_DATASET", raising=False)
    assert settings.dataset_spec_path() == CHURN_SPEC.resolve()
    monkeypatch.setenv("ML_ASSETS_DATASET", "elsewhere/spec.yaml")
    assert settings.dataset_spec_path() == (settings.PROJECT_ROOT / "elsewhere/spec.yaml")


def test_churn_spec_gives_todays_contract_names():
    spec = load_spec(CHURN_SPEC)
    names = spec.names
    # The public contract of DESIGN.md, written out once here on purpose.
    assert names.raw == ("raw", "customer_snapshots")
    assert names.features == ("features", "customer_features")
    assert names.training_set == ("training", "training_set")
    assert names.model == ("training", "churn_model")
    assert names.evaluation == ("evaluation", "evaluation_report")
    assert names.champion == ("registry", "champion_model")
    assert names.predictions == ("scoring", "churn_predictions")
    assert names.drift == ("monitoring", "drift_report")
    assert names.model_name == "churn_model"
    assert names.experiment_name == "churn"
    assert names.raw_table == "raw.customer_snapshots"
    assert names.features_table == "features.customer_features"
    assert names.predictions_table == "scoring.churn_predictions"
    assert names.table(names.drift) == "monitoring.drift_report"
    assert (names.probability_column, names.prediction_column) == (
        "churn_probability",
        "predicted_churn",
    )
    assert spec.prefix is None and names.prefix is None
    assert names == dataset_names("churn", "customer")


def test_churn_spec_declares_todays_landing_schema():
    spec = active_spec()
    assert spec.path == CHURN_SPEC.resolve()
    assert spec.landing_columns == CHURN_LANDING_COLUMNS
    assert spec.column("plan").values == ("basic", "standard", "premium")
    assert spec.column("total_charges").nullable and spec.column("total_charges").min == 0
    assert spec.column("signup_date").not_after == "snapshot_date"
    assert spec.column("customer_id").unique
    assert (spec.target.column, spec.target.positive) == ("churned", 1)
    assert spec.serving_columns == spec.landing_columns[:-1]
    assert spec.landing_file_name("2025-03-04") == "customers_2025-03-04.csv"
    assert spec.landing_regex.fullmatch("customers_2025-03-04.parquet").group(1) == "2025-03-04"
    assert spec.landing_regex.fullmatch("customers_2025-03-04.CSV") is None
    assert spec.feature_table_columns[:2] == ["customer_id", "snapshot_date"]
    assert spec.feature_table_columns[-1] == "churned"
    assert spec.segment_names == ["plan", "contract", "region", "tenure_band"]
    band = spec.segments[-1]
    frame = pd.DataFrame({"tenure_days": [0, 89, 90, 364, 365, 729, 730, 5000, -1]})
    assert list(band.values_of(frame)) == [
        "0-3m",
        "0-3m",
        "3-12m",
        "3-12m",
        "1-2y",
        "1-2y",
        "2y+",
        "2y+",
        "unknown",
    ]
    derive = spec.derive_function()
    assert derive.__module__ == "ml_assets_examples.churn.features"
    assert spec_problems(CHURN_SPEC) == []


def _write(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(CHURN_SPEC.read_text())
    edit(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _only_problem(path: Path) -> str:
    problems = spec_problems(path)
    assert len(problems) == 1, problems
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.problems == problems
    assert str(info.value) == problems[0]
    assert problems[0].startswith(f"{path.resolve()}: ")
    return problems[0]


def test_unknown_key_is_named(tmp_path):
    line = _only_problem(_write(tmp_path, lambda d: d.update(segmets=[])))
    assert ": segmets: unknown key" in line and "fix its spelling" in line
    line = _only_problem(_write(tmp_path, lambda d: d["columns"]["plan"].update(allowed=["basic"])))
    assert ": columns.plan.allowed: unknown key" in line


def test_feature_that_is_not_a_column(tmp_path):
    line = _only_problem(_write(tmp_path, lambda d: d["features"]["numeric"].insert(3, "income")))
    assert ": features.numeric[3]: 'income' is neither a column nor a derived column" in line


def test_bad_type(tmp_path):
    line = _only_problem(
        _write(tmp_path, lambda d: d["columns"]["logins_30d"].update(type="integer"))
    )
    assert ": columns.logins_30d.type: 'integer' is not a type; use one of" in line


def test_target_missing(tmp_path):
    line = _only_problem(_write(tmp_path, lambda d: d["target"].update(column="cancelled")))
    assert ": target.column: 'cancelled' is not one of the columns" in line


def test_derive_not_importable(tmp_path):
    line = _only_problem(
        _write(tmp_path, lambda d: d["features"].update(derive="no_such_module_x:derive"))
    )
    assert ": features.derive: cannot import module no_such_module_x" in line
    line = _only_problem(
        _write(
            tmp_path,
            lambda d: d["features"].update(derive="ml_assets_examples.churn.features:nothing"),
        )
    )
    assert "has no function nothing" in line


def test_derive_beside_the_spec_file_is_found(tmp_path):
    (tmp_path / "my_derive_for_spec_test.py").write_text("def derive(rows):\n    return rows[[]]\n")
    path = _write(tmp_path, lambda d: d["features"].update(derive="my_derive_for_spec_test:derive"))
    assert spec_problems(path) == []
    assert load_spec(path).derive_function().__name__ == "derive"


def test_pattern_without_date(tmp_path):
    line = _only_problem(_write(tmp_path, lambda d: d.update(landing_pattern="customers.csv")))
    assert ": landing_pattern: 'customers.csv' has no single {date} placeholder" in line
    line = _only_problem(
        _write(tmp_path, lambda d: d.update(landing_pattern="in/customers_{date}.csv"))
    )
    assert "no folder part" in line


def test_all_problems_are_listed_at_once(tmp_path):
    def edit(d):
        d["columns"]["plan"]["type"] = "text"
        d["target"]["column"] = "label"
        d["landing_pattern"] = "x.csv"
        d["extra"] = 1

    problems = spec_problems(_write(tmp_path, edit))
    keys = [p.split(": ")[1] for p in problems]
    assert {"extra", "landing_pattern", "columns.plan.type", "target.column"} <= set(keys)


def test_missing_file_and_bad_yaml(tmp_path):
    assert "does not exist" in spec_problems(tmp_path / "none.yaml")[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    problems = spec_problems(bad)
    assert len(problems) == 1 and "\n" not in problems[0]
    assert "not valid YAML at line 2, column 1" in problems[0]


def _target_spec(tmp_path: Path, column: dict, positive) -> object:
    text = textwrap.dedent(
        """\
        name: t
        entity: row
        id_column: id
        date_column: day
        landing_pattern: "rows_{date}.csv"
        target: {column: label, positive: POSITIVE}
        columns:
          id: {type: string}
          day: {type: date}
          x: {type: float}
          label: COLUMN
        features: {numeric: [x]}
        """
    )
    text = text.replace("POSITIVE", positive).replace("COLUMN", column)
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return load_spec(path)


def test_target_zero_one(tmp_path):
    spec = _target_spec(tmp_path, "{type: int, nullable: true}", "1")
    events = target_to_event(pd.Series(["1", "0", "", None, "1.0"], dtype=object), spec)
    assert events.dtype == "Int64"
    assert events.tolist() == [1, 0, pd.NA, pd.NA, 1]
    assert target_to_event(pd.Series([0, 1, None], dtype="Int64"), spec).tolist() == [0, 1, pd.NA]


def test_target_true_false(tmp_path):
    spec = _target_spec(tmp_path, "{type: bool, nullable: true}", "true")
    events = target_to_event(pd.Series(["true", "False", "", "1", "0"]), spec)
    assert events.tolist() == [1, 0, pd.NA, 1, 0]
    assert target_to_event(pd.Series([True, False]), spec).tolist() == [1, 0]


def test_target_yes_no(tmp_path):
    spec = _target_spec(tmp_path, '{type: category, values: ["No", "Yes"]}', '"Yes"')
    events = target_to_event(pd.Series(["Yes", "No", " Yes ", None]), spec)
    assert events.tolist() == [1, 0, 1, pd.NA]
    # Without declared values, any one other value is the other class.
    spec = _target_spec(tmp_path, "{type: string}", '"late"')
    assert target_to_event(pd.Series(["late", "on time"]), spec).tolist() == [1, 0]


@pytest.mark.parametrize(
    "column,positive,values,bad",
    [
        ("{type: int, nullable: true}", "1", ["0", "1", "2"], "2"),
        ("{type: bool}", "true", ["true", "maybe"], "maybe"),
        ('{type: category, values: ["No", "Yes"]}', '"Yes"', ["Yes", "No", "Unknown"], "Unknown"),
        ("{type: string}", '"late"', ["late", "early", "on time"], "on time"),
    ],
)
def test_third_target_value_is_refused_with_the_values_named(
    tmp_path, column, positive, values, bad
):
    spec = _target_spec(tmp_path, column, positive)
    with pytest.raises(TargetValueError) as info:
        target_to_event(pd.Series(values), spec)
    message = str(info.value)
    assert message.startswith("column label: 1 value(s) ")
    assert bad in message and "neither of the target's two values" in message
    assert info.value.mask.tolist() == [v == bad for v in values]


def test_unquoted_yes_is_flagged(tmp_path):
    with pytest.raises(SpecError) as info:
        _target_spec(tmp_path, "{type: string}", "Yes")
    assert "target.positive: YAML read an unquoted yes/no" in str(info.value)


def test_positive_outside_the_declared_values(tmp_path):
    with pytest.raises(SpecError) as info:
        _target_spec(tmp_path, '{type: category, values: ["No", "Yes"]}', '"Y"')
    assert "target.positive: 'Y' is not one of the target's values No, Yes" in str(info.value)


def test_prefix_is_put_in_front_of_every_key():
    names = dataset_names("flights", "flight", prefix="flights")
    assert names.raw == ("flights", "raw", "flight_snapshots")
    assert names.table(names.raw) == "raw.flight_snapshots"
    assert names.training_table == "training.training_set"
    assert names.model_name == "flights_model"
    assert load_spec(CHURN_SPEC, prefix="c").names.champion == ("c", "registry", "champion_model")
