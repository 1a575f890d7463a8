"""Which expert, which layer? The paper's diagnosis (Sec. 4.2) as a measurement.

:func:`probe` fits a small τ from each candidate layer of an expert to a target
expert's code, and one from nothing, under one shared budget; it reports per layer
the held-out NLL, the information the layer holds about the target (the difference of
held-out NLLs), the diversity of samples and how often they keep each label, with a
grid of samples and a one-line recommendation. ``net2net probe`` is the same from the
command line; docs/probe.md shows a report and how to read it.
"""

from net2net.probing.layers import POOL_LADDER, expert_layers, tap_layer
from net2net.probing.report import load_report, recommend, write_docs
from net2net.probing.run import ProbeSettings, probe

__all__ = ["POOL_LADDER", "ProbeSettings", "expert_layers", "load_report", "probe", "recommend", "tap_layer",
           "write_docs"]
