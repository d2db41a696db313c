"""Model registry, custom nets, offline weights and freeze plans."""
