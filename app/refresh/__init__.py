"""The refresh protocol: single-flight refresh, connection states, the sweep and its scheduler."""
