"""The lifting networks.

PoseEstimator: 2D joints (x, y, visibility) -> per-joint embeddings -> blocks that interleave a
sparse graph convolution over the skeleton's bones (PyTorch Geometric message passing) with
Transformer self-attention across all joints -> 28 x 3 root-relative millimetres.
LinearBaseline: the residual MLP of Martinez et al. (2017), for comparison.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

import skeleton_utils as sk
from model_input import normalize_input

# The networks predict metres; multiplying by 1000 gives millimetres with unit-scale weights.
# The networks predict metres; multiplying by 1000 gives millimetres with unit-scale weights.
MM_PER_OUTPUT_UNIT = 1000.0


def create_edge_index() -> torch.Tensor:
    """The 27 bones of the skeleton as a PyG edge_index (2, 54), both directions."""
    bones = torch.tensor(sk.MPIINF_EDGES, dtype=torch.long).t()
    return torch.cat([bones, bones.flip(0)], dim=1)


@contextmanager
def generated_code_in_private_temp_folder():
    """Keep the system temp folder as it was while PyG builds a MessagePassing class's propagate().

    The first instance of each class in a process renders a jinja template to a .py file with
    tempfile.NamedTemporaryFile(delete=False) and imports it (torch_geometric/template.py), never
    removing the file. Imported, the code lives in sys.modules and the class; the file is not read
    again (we trace, never torch.jit.script). So tempfile writes it into a folder of our own, removed
    on leaving; later instances of the class find the module in sys.modules and write nothing.
    """
    saved = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="pyg_generated_") as folder:
        tempfile.tempdir = folder
        try:
            yield
        finally:
            tempfile.tempdir = saved


# ---------------------------------------------------------------------------
# The hybrid: sparse graph convolution + Transformer
# ---------------------------------------------------------------------------
class SelfAttention(nn.Module):
    """Multi-head self-attention across the joints of each pose."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} must be divisible by the number of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, j, d = x.shape
        q, k, v = self.qkv(x).view(b, j, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(b, j, d))


class GraphTransformerBlock(nn.Module):
    """Local message passing along the bones, then global attention, then a per-joint MLP.

    The graph convolution mixes each joint with its kinematic neighbours (where the strongest
    evidence about its depth is); attention lets distant joints (a wrist and a knee) inform
    each other. Pre-norm residual branches, as in GPT-style Transformers.
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        # node_dim=1: the graph is shared by every pose in the (batch, joints, features) tensor.
        # normalize=False: the skeleton never changes, so PoseEstimator normalises it once.
        self.norm_graph = nn.LayerNorm(dim)
        with generated_code_in_private_temp_folder():
            self.graph_conv = GCNConv(dim, dim, node_dim=1, normalize=False)
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(F.gelu(self.graph_conv(self.norm_graph(x), edge_index, edge_weight)))
        x = x + self.drop(self.attn(self.norm_attn(x)))
        return x + self.drop(self.mlp(self.norm_mlp(x)))


class PoseEstimator(nn.Module):
    """(B, 28, 3) normalised (x, y, visibility) -> (B, 28, 3) root-relative mm."""

    def __init__(self, num_joints: int = sk.NUM_JOINTS, dim: int = 96, depth: int = 4, heads: int = 4,
                 dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(3, dim)
        # Which joint a token is: the same (x, y) means something different at a wrist and a knee.
        self.joint_identity = nn.Parameter(0.02 * torch.randn(num_joints, dim))
        self.blocks = nn.ModuleList(GraphTransformerBlock(dim, heads, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)
        # GCN's symmetric normalisation D^-1/2 (A + I) D^-1/2 of the skeleton, computed once. As
        # buffers they follow the model to its device, also in a traced (TorchScript) export.
        edge_index, edge_weight = gcn_norm(create_edge_index(), num_nodes=num_joints, add_self_loops=True)
        self.register_buffer("edge_index", edge_index, persistent=False)
        self.register_buffer("edge_weight", edge_weight, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.joint_identity
        for block in self.blocks:
            h = block(h, self.edge_index, self.edge_weight)
        return root_relative_mm(self.head(self.norm(h)))


# ---------------------------------------------------------------------------
# The baseline: Martinez et al., "A simple yet effective baseline for 3D human pose estimation"
# ---------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class LinearBaseline(nn.Module):
    """(B, 28, 3) normalised (x, y, visibility) -> (B, 28, 3) root-relative mm, by a residual MLP."""

    def __init__(self, num_joints: int = sk.NUM_JOINTS, width: int = 1024, blocks: int = 2, dropout: float = 0.5):
        super().__init__()
        self.num_joints = num_joints
        self.inp = nn.Sequential(nn.Linear(3 * num_joints, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*(ResidualBlock(width, dropout) for _ in range(blocks)))
        self.out = nn.Linear(width, 3 * num_joints)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(x.flatten(1)))
        return root_relative_mm(self.out(h).view(-1, self.num_joints, 3))


def root_relative_mm(out: torch.Tensor) -> torch.Tensor:
    """Network output in metres -> millimetres with the pelvis exactly at the origin."""
    out = out * MM_PER_OUTPUT_UNIT
    return out - out[:, sk.ROOT: sk.ROOT + 1]


ARCHITECTURES = {"gcn_transformer": PoseEstimator, "mlp": LinearBaseline}


def build_model(arch: str, **config) -> nn.Module:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Lifter(nn.Module):
    """The deployable whole: raw (B, 28, 3) pixel joints + visibility -> (B, 28, 3) root-relative mm.

    Normalisation is built in, so a caller never has to know the training statistics.
    """

    def __init__(self, model: nn.Module, norm_stats: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(norm_stats[0], dtype=torch.float32).clone())
        self.register_buffer("std", torch.as_tensor(norm_stats[1], dtype=torch.float32).clone())

    def forward(self, joints: torch.Tensor) -> torch.Tensor:
        return self.model(normalize_input(joints, self.mean, self.std))


if __name__ == "__main__":
    for name in ARCHITECTURES:
        net = build_model(name)
        print(f"{name}: {count_parameters(net):,} parameters")
