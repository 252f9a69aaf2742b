"""The managed server across several ranks (``--mlx-hosts``): MLX's distributed runtime, tensor or
pipeline parallel. ``hosts`` reads the topology, ``shards`` checks the model can be split that way,
``launch`` builds the commands (local ranks, or ``mlx.launch`` for remote hosts) and ``server``
runs them as one managed server. Nothing here imports mlx.
"""
