"""Fault rules: their model, how they are parsed and loaded, how they are applied."""
