"""Running the generator: shards (pure functions of seed, shard and plan), the runner that
executes them on processes or Dask with resume, and ``generate``."""
