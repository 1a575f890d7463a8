"""The paper's own conditional flow (CompVis/net2net), run from a local copy that the
project never ships: the reference of the GPU table (benchmarks/gpu_table.py).

:func:`prepare` copies the few pure-torch modules that the paper's
``ConditionalFlatCouplingFlow`` and its ``NLL`` loss need from a checkout of
CompVis/net2net, or from a bare mirror of it (what the session tool ``fetch`` leaves),
into a git-ignored folder (``.paper-code/`` by default). It renames their top-level
package ``net2net`` to ``paper_net2net`` on the way, so that it cannot shadow ours.
:func:`load` imports it from there. A GPU machine cannot download it, so prepare it
here and carry the folder along::

    python benchmarks/paper_code.py /work/.mirror/CompVis+net2net/repo [--check]

:class:`PaperCodeFlow` is the paper's training step as its code takes it (the flow in
4-d layout, its ``NLL`` loss, ``torch.optim.Adam`` with its betas and AMSGrad, as in its
``Net2NetFlow.configure_optimizers``), without PyTorch Lightning around it.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from paper_reference import PaperCINN
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
#: where :func:`prepare` puts the copy (git-ignored)
DEFAULT_DIR = ROOT / ".paper-code"
PACKAGE = "paper_net2net"
#: the paper's modules the flow and its loss import, relative to its repository root
FILES = (
    "net2net/__init__.py",
    "net2net/modules/__init__.py",
    "net2net/modules/autoencoder/__init__.py",
    "net2net/modules/autoencoder/basic.py",
    "net2net/modules/distributions/__init__.py",
    "net2net/modules/distributions/distributions.py",
    "net2net/modules/flow/__init__.py",
    "net2net/modules/flow/base.py",
    "net2net/modules/flow/blocks.py",
    "net2net/modules/flow/flatflow.py",
    "net2net/modules/flow/loss.py",
)
#: the paper's text-to-image τ (its configs/translation/sbert-to-biggan256.yaml)
PAPER_FLOW = {"in_channels": 268, "conditioning_dim": 768, "embedding_dim": 268, "n_flows": 24,
              "hidden_dim": 1024, "hidden_depth": 2, "conditioning_depth": 2, "conditioning_hidden_dim": 256,
              "activation": "none", "conditioner_use_bn": True}
#: its optimiser (net2net/models/flows/flow.py, Net2NetFlow.configure_optimizers)
PAPER_ADAM = {"betas": (0.5, 0.9), "amsgrad": True}


def _read(source: Path, rel: str) -> str:
    if (source / rel).is_file():
        return (source / rel).read_text()
    if (source / "HEAD").is_file() and (source / "objects").is_dir():  # a bare repository
        out = subprocess.run(["git", "--git-dir", str(source), "show", f"HEAD:{rel}"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout
    raise FileNotFoundError(f"{rel} is not in {source}: is it a checkout or mirror of CompVis/net2net?")


def prepare(source: Path, dest: Path = DEFAULT_DIR) -> Path:
    """Copies the paper's flow modules from ``source`` into ``dest/paper_net2net``; returns ``dest``."""
    source = Path(source)
    texts = {rel: _read(source, rel) for rel in FILES}  # all or nothing
    target = Path(dest) / PACKAGE
    if target.exists():
        shutil.rmtree(target)
    for rel, text in texts.items():
        path = target / Path(rel).relative_to("net2net")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("from net2net.", f"from {PACKAGE}.").replace("import net2net.", f"import {PACKAGE}."))
    return Path(dest)


def load(dest: Path = DEFAULT_DIR):
    """The paper's ``flatflow`` and ``loss`` modules from a folder :func:`prepare` wrote,
    or ``None`` when there is none."""
    if not (Path(dest) / PACKAGE / "modules" / "flow" / "flatflow.py").is_file():
        return None
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    return (importlib.import_module(f"{PACKAGE}.modules.flow.flatflow"),
            importlib.import_module(f"{PACKAGE}.modules.flow.loss"))


class PaperCodeFlow(nn.Module):
    """The paper's ``ConditionalFlatCouplingFlow`` behind the two calls the GPU table
    makes: ``loss(z, c)`` (its ``NLL``) and ``sample(c)``."""

    def __init__(self, modules, **flow_params) -> None:
        super().__init__()
        flatflow, loss = modules
        self.flow = flatflow.ConditionalFlatCouplingFlow(**flow_params)
        self.nll = loss.NLL()
        self.dim = flow_params["in_channels"]

    def loss(self, z: Tensor, c: Tensor) -> Tensor:
        zz, logdet = self.flow(z[:, :, None, None], c)
        return self.nll(zz, logdet)[0]

    def sample(self, c: Tensor) -> Tensor:
        return self.flow.sample(c)[:, :, 0, 0]

    def optimizer(self, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.flow.parameters(), lr=lr, **PAPER_ADAM)


def reimplementation(params: dict) -> PaperCINN:
    """:class:`paper_reference.PaperCINN` (our reading of the paper's code) built from the
    paper's own parameter names, e.g. :data:`PAPER_FLOW`."""
    return PaperCINN(params["in_channels"], params["conditioning_dim"], n_flows=params["n_flows"],
                     hidden=params["hidden_dim"], hidden_depth=params["hidden_depth"],
                     embed_dim=params["embedding_dim"], cond_hidden=params["conditioning_hidden_dim"],
                     cond_depth=params["conditioning_depth"], cond_bn=params["conditioner_use_bn"])


def agreement(modules, seed: int = 0) -> float:
    """How far :class:`paper_reference.PaperCINN` (our reading of the paper's code, the
    reference of benchmarks/real_pairs.py) is from the paper's code itself: both built
    small, the paper's weights, ActNorm statistics and shuffles copied into ours, the
    largest difference of a row's NLL (nats, without the Gaussian constant) in training
    mode on one batch."""
    torch.manual_seed(seed)
    small = {"in_channels": 16, "conditioning_dim": 24, "embedding_dim": 8, "n_flows": 3, "hidden_dim": 32,
             "hidden_depth": 1, "conditioning_depth": 2, "conditioning_hidden_dim": 20, "activation": "none",
             "conditioner_use_bn": True}
    theirs = PaperCodeFlow(modules, **small).train()
    ours = reimplementation(small).train()
    z, c = torch.randn(64, 16) * 2 + 1, torch.randn(64, 24)
    with torch.no_grad():
        theirs.loss(z, c)  # initialises the paper's ActNorms on this batch
        ours.log_prob(z, c)
    rename = ((r"sub_layers\.(\d+)\.norm_layer\.(loc|scale)", r"norms.\1.\2"),
              (r"sub_layers\.(\d+)\.coupling\.([st])\.(\d+)\.main\.(.*)", r"couplings.\1.\2.\3.\4"),
              (r"embedder\.main\.(.*)", r"embedder.\1"))
    state = dict(ours.state_dict())
    for name, t in theirs.flow.state_dict().items():
        for pattern, repl in rename:
            if re.fullmatch(pattern, name):
                key = re.sub(pattern, repl, name)
                state[key] = t.reshape(state[key].shape)
    state["perms"] = torch.stack([b.shuffle.forward_shuffle_idx for b in theirs.flow.sub_layers]).long()
    state["inv_perms"] = torch.argsort(state["perms"], dim=1)
    ours.load_state_dict(state)
    with torch.no_grad():
        zz, log_det = theirs.flow(z[:, :, None, None], c)
        paper_nll = 0.5 * zz.pow(2).sum(dim=[1, 2, 3]) - log_det
        our_nll = -ours.log_prob(z, c) - 0.5 * 16 * math.log(2 * math.pi)
    return float((paper_nll - our_nll).abs().max())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Copy the paper's flow modules into a git-ignored folder.")
    p.add_argument("source", type=Path, help="a checkout or bare mirror of CompVis/net2net")
    p.add_argument("--dest", type=Path, default=DEFAULT_DIR)
    p.add_argument("--check", action="store_true",
                   help="also compare paper_reference.PaperCINN with the paper's code (agreement, parameters)")
    args = p.parse_args(argv)
    try:
        dest = prepare(args.source, args.dest)
    except FileNotFoundError as e:
        p.error(str(e))
    print(f"the paper's flow modules are in {dest / PACKAGE}")
    if args.check:
        modules = load(dest)
        count = {"the paper's code": PaperCodeFlow(modules, **PAPER_FLOW), "PaperCINN": reimplementation(PAPER_FLOW)}
        print("parameters at the paper's size: " +
              ", ".join(f"{n} {sum(p.numel() for p in m.parameters()):,}" for n, m in count.items()))
        print(f"largest difference of a row's NLL, same weights: {agreement(modules):.1e} nats")


if __name__ == "__main__":
    main()
