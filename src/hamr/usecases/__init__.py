"""The use cases: the service facade over the unit of work, its caches and its rules."""
