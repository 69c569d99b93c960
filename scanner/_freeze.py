"""Imported last by the workers' fork server (see :func:`scanner.pipeline.warm_up`).

Moves everything the server has loaded out of the garbage collector's reach before it forks any
worker, so that no collection in a worker writes to those objects: their pages stay shared with
the server instead of being copied into every worker.
"""

import gc

gc.freeze()
