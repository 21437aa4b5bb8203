"""hex-exposures: dbt exposures for Hex projects, from the tables they really query."""

__version__ = "0.1.0"
