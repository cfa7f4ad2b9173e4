"""Alternative training backends that consume aptk's configs and shards (GPU clusters)."""
