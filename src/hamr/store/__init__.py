"""Storage: SQLAlchemy tables, the repository and unit of work, the read view, migrations."""
