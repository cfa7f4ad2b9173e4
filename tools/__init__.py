"""One-off data builders (regenerate the project's committed data files)."""
