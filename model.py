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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 28, 3) input -> (B, 28, dim) per-joint features, from which the head reads the 3D."""
        h = self.embed(x) + self.joint_identity
        for block in self.blocks:
            h = block(h, self.edge_index, self.edge_weight)
        return self.norm(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return root_relative_mm(self.head(self.features(x)))


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
    """Network output (..., 28, 3) in metres -> millimetres with the pelvis exactly at the origin."""
    out = out * MM_PER_OUTPUT_UNIT
    return out - out[..., sk.ROOT: sk.ROOT + 1, :]


# ---------------------------------------------------------------------------
# The temporal lifter: the per-frame hybrid, then attention across the frames of a window
# ---------------------------------------------------------------------------
OFFLINE, CAUSAL = 0, 1  # a window centred on the frame (video files), or past frames only (a live camera)


class WindowAttention(nn.Module):
    """Each frame's query attends to the frame tokens of its window, with a learned bias per time offset."""

    def __init__(self, dim: int, heads: int, radius: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} must be divisible by the number of heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.offset_bias = nn.Parameter(torch.zeros(heads, 2 * radius + 1))

    def forward(self, query: torch.Tensor, frames: torch.Tensor, window: "Window") -> torch.Tensor:
        """query (B, Q, D), frames (B, T, D) -> (B, Q, D)."""
        b, q_len, d = query.shape
        q = self.q(query).view(b, q_len, self.heads, d // self.heads).transpose(1, 2)
        k, v = self.kv(frames).view(b, frames.shape[1], 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.offset_bias[:, window.offsets].unsqueeze(0).masked_fill(~window.allowed, float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(b, q_len, d))


class WindowBlock(nn.Module):
    """Pre-norm: the query attends over its window's frame tokens, then an MLP."""

    def __init__(self, dim: int, heads: int, radius: int):
        super().__init__()
        self.norm_query, self.norm_frames = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, radius)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, query: torch.Tensor, frames: torch.Tensor, window: "Window") -> torch.Tensor:
        query = query + self.attn(self.norm_query(query), self.norm_frames(frames), window)
        return query + self.mlp(self.norm_mlp(query))


class Window:
    """Which frames each query frame sees: `allowed` (B, 1, Q, T) and the time offsets (Q, T) as bias indices.

    Query frame i sees frame j when |j - i| <= radius (j <= i if causal) and j was found; it always sees
    itself, so a query at a frame without a person (whose output is never used) has no empty row.
    """

    def __init__(self, found: torch.Tensor, queries: torch.Tensor, radius: int, causal: bool):
        keys = torch.arange(found.shape[1], device=found.device)
        offset = keys[None, :] - queries[:, None]
        band = offset.abs() <= radius
        if causal:
            band = band & (offset <= 0)
        self.allowed = ((band[None] & found[:, None, :]) | (offset == 0)[None])[:, None]
        self.offsets = offset.clamp(-radius, radius) + radius


class PosePooling(nn.Module):
    """Single-head attention weights of each frame over its window, which average the per-frame 3D.

    A learned weighting of the window's per-frame poses is what a filter does, but chosen per frame from
    what the frames show (a narrow window in fast motion, a wide one when still). The offset bias starts
    at SELF_WEIGHT_LOGIT on the frame itself and 0 elsewhere: pooling starts near the per-frame 3D, mildly
    smoothed. The bias is stored divided by BIAS_SCALE, so that the optimiser's steps move it that many
    times faster than the other weights: a kernel must travel logits of several units.
    """

    SELF_WEIGHT_LOGIT = 2.0
    BIAS_SCALE = 10.0

    def __init__(self, dim: int, radius: int, key_dim: int = 64):
        super().__init__()
        self.q, self.k = nn.Linear(dim, key_dim), nn.Linear(dim, key_dim)
        nn.init.zeros_(self.q.weight)
        nn.init.zeros_(self.q.bias)
        bias = torch.zeros(2 * radius + 1)
        bias[radius] = self.SELF_WEIGHT_LOGIT / self.BIAS_SCALE
        self.offset_bias = nn.Parameter(bias)

    def forward(self, query: torch.Tensor, frames: torch.Tensor, window: Window, poses: torch.Tensor) -> torch.Tensor:
        """query (B, Q, D), frames (B, T, D), poses (B, T, 28, 3) -> pooled poses (B, Q, 28, 3)."""
        logits = self.q(query) @ self.k(frames).transpose(1, 2) / self.q.out_features ** 0.5
        bias = self.BIAS_SCALE * self.offset_bias[window.offsets]
        logits = (logits + bias).masked_fill(~window.allowed[:, 0], float("-inf"))
        return torch.einsum("bij,bjkc->bikc", logits.softmax(-1), poses)


class TemporalLifter(nn.Module):
    """(B, T, 28, 3) normalised input of consecutive frames + which were found (B, T) -> (B, T, 28, 3) mm.

    Each frame is encoded once by the per-frame hybrid (a PoseEstimator, initialised from the bundled
    weights; frozen in training, or fine-tuned at a fraction of the rate): its joint features and its own 3D
    make one token per frame.
    Then each frame's query attends over the tokens of its window (radius frames each side, offline, or
    the radius frames before it, causal); the keys are always the frame tokens, so a frame's output
    depends on its window and nothing else. From the query come weights that pool the window's per-frame
    3D (PosePooling) and a correction of the pooled pose (its head starts at zero, so before training
    the temporal model is close to the per-frame one).
    """

    def __init__(self, frame_config: dict | None = None, radius: int = 13, dim: int = 192, depth: int = 3,
                 heads: int = 6):
        super().__init__()
        self.frame_model = PoseEstimator(**(frame_config or {}))
        self.radius = radius
        joints, frame_dim = self.frame_model.joint_identity.shape
        self.token = nn.Linear(joints * (frame_dim + 3), dim)
        self.mode = nn.Parameter(torch.zeros(2, dim))  # OFFLINE or CAUSAL: what the query may expect to see
        self.blocks = nn.ModuleList(WindowBlock(dim, heads, radius) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.pool = PosePooling(dim, radius)
        self.head = nn.Linear(dim, joints * 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 28, 3) input frames -> (tokens (..., dim), per-frame 3D (..., 28, 3) mm)."""
        flat = x.reshape(-1, *x.shape[-2:])
        features = self.frame_model.features(flat)
        pose = root_relative_mm(self.frame_model.head(features))
        token = self.token(torch.cat([features, pose / MM_PER_OUTPUT_UNIT], dim=-1).flatten(1))
        return token.view(*x.shape[:-2], -1), pose.view(x.shape)

    def attend(self, tokens: torch.Tensor, poses: torch.Tensor, found: torch.Tensor, causal: bool,
               target: int | None = None) -> torch.Tensor:
        """Frame tokens (B, T, dim) and their per-frame 3D (B, T, 28, 3) -> every frame's 3D from its window
        (B, T, 28, 3), or with `target` only that frame's (B, 28, 3) (a gathered window: one query)."""
        t = tokens.shape[1]
        queries = torch.arange(t, device=tokens.device) if target is None else torch.tensor([target], device=tokens.device)
        window = Window(found, queries, self.radius, causal)
        query = tokens[:, queries] + self.mode[CAUSAL if causal else OFFLINE]
        for block in self.blocks:
            query = block(query, tokens, window)
        query = self.norm(query)
        pooled = self.pool(query, self.blocks[-1].norm_frames(tokens), window, poses)
        correction = self.head(query).view(pooled.shape)
        out = root_relative_mm(pooled / MM_PER_OUTPUT_UNIT + correction)
        return out if target is None else out[:, 0]

    def forward(self, x: torch.Tensor, found: torch.Tensor, causal: bool = False) -> torch.Tensor:
        tokens, poses = self.encode(x)
        return self.attend(tokens, poses, found, causal)


ARCHITECTURES = {"gcn_transformer": PoseEstimator, "mlp": LinearBaseline}  # the per-frame lifters (train.py --arch)
TEMPORAL_ARCH = "temporal"  # train_temporal.py's TemporalLifter, on a gcn_transformer


def build_model(arch: str, **config) -> nn.Module:
    if arch == TEMPORAL_ARCH:
        return TemporalLifter(**config)
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES) + [TEMPORAL_ARCH]}")
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


class SequenceLifter(nn.Module):
    """The deployable temporal whole: raw (B, T, 28, 3) pixel frames + found (B, T) -> (B, T, 28, 3) mm.

    encode() and attend() split it for streams, whose frames are each encoded once (infer_lifting.py).
    """

    def __init__(self, model: TemporalLifter, norm_stats: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(norm_stats[0], dtype=torch.float32).clone())
        self.register_buffer("std", torch.as_tensor(norm_stats[1], dtype=torch.float32).clone())

    @property
    def radius(self) -> int:
        return self.model.radius

    def encode(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.encode(normalize_input(joints, self.mean, self.std))

    def forward(self, joints: torch.Tensor, found: torch.Tensor, causal: bool = False) -> torch.Tensor:
        return self.model(normalize_input(joints, self.mean, self.std), found, causal)

    def attend_window(self, tokens: torch.Tensor, poses: torch.Tensor, found: torch.Tensor, causal: bool) -> torch.Tensor:
        """Gathered windows of encoded frames (B, 2 x radius + 1, ...) -> the centre frame's 3D (B, 28, 3) mm."""
        return self.model.attend(tokens, poses, found, causal, target=self.radius)


class MirrorAveraged(nn.Module):
    """Test-time flip (VideoPose3D's): every input lifted as seen and mirrored, the mirrored 3D mirrored back,
    the two averaged. Wraps a Lifter (forward) or a sequence lifter (encode, attend_window): the same calls,
    twice the work."""

    def __init__(self, lifter: nn.Module):
        super().__init__()
        self.lifter = lifter

    @property
    def radius(self) -> int:
        return self.lifter.radius

    def forward(self, joints: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.lifter(joints) + sk.flip_pose(self.lifter(sk.flip_pose(joints))))

    def encode(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each frame's tokens and 3D, as seen and mirrored, on a new axis after the frames' axes."""
        (seen_tokens, seen_poses), (tokens, poses) = self.lifter.encode(joints), self.lifter.encode(sk.flip_pose(joints))
        axis = joints.dim() - 2
        return torch.stack([seen_tokens, tokens], axis), torch.stack([seen_poses, poses], axis)

    def attend_window(self, tokens: torch.Tensor, poses: torch.Tensor, found: torch.Tensor, causal: bool) -> torch.Tensor:
        seen = self.lifter.attend_window(tokens[:, :, 0], poses[:, :, 0], found, causal)
        mirrored = self.lifter.attend_window(tokens[:, :, 1], poses[:, :, 1], found, causal)
        return 0.5 * (seen + sk.flip_pose(mirrored))


class WindowLifter(nn.Module):
    """For export: windows of 2 x radius + 1 raw frames (B, W, 28, 3) + found (B, W) -> the 3D of the centre
    frame (B, 28, 3). Causal, the frames after the centre are never read (mark them not found)."""

    def __init__(self, lifter: SequenceLifter, causal: bool):
        super().__init__()
        self.lifter, self.causal = lifter, causal

    def forward(self, joints: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
        tokens, poses = self.lifter.encode(joints)
        return self.lifter.attend_window(tokens, poses, found, self.causal)


if __name__ == "__main__":
    for name in ARCHITECTURES:
        net = build_model(name)
        print(f"{name}: {count_parameters(net):,} parameters")
