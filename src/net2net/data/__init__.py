"""Data sets and derived query domains."""

from net2net.data import shapes as _shapes  # noqa: F401 - registers the generated ``shapes`` data set
from net2net.data.toy import LinearGaussianToy

__all__ = ["LinearGaussianToy"]
