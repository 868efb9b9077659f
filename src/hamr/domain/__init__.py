"""The HAMR model: organizations, keys, connections and the rules that bind them. No I/O."""
