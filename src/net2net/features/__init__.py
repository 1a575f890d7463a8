"""The feature store: each expert's representation of a data set, computed once.

See :mod:`net2net.features.store` for the layout and the guarantees,
:mod:`net2net.features.extract` for how an entry is made, and
:mod:`net2net.features.shards` for the shard files.
"""

from net2net.features.shards import ShardedRows
from net2net.features.store import FORMAT, Entry, FeatureStore, _key, _npy_bytes, default_root

__all__ = ["FORMAT", "Entry", "FeatureStore", "ShardedRows", "default_root"]

_ = (_key, _npy_bytes)  # re-exported for code that writes an entry by hand (the reliability tests)
