"""Data sets and derived query domains."""

from net2net.data.toy import LinearGaussianToy

__all__ = ["LinearGaussianToy"]
