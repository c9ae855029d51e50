"""The lifting models and their self-describing checkpoints.

PoseEstimator: 2D joints (x, y, visibility) -> per-joint embeddings -> blocks that interleave a
sparse graph convolution over the skeleton's bones (PyTorch Geometric message passing) with
Transformer self-attention across all joints -> 28 x 3 root-relative millimetres.
LinearBaseline: the residual MLP of Martinez et al. (2017), for comparison.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

import skeleton_utils as sk
from data_loader import normalize_input

# The networks predict metres; multiplying by 1000 gives millimetres with unit-scale weights.
MM_PER_OUTPUT_UNIT = 1000.0
CHECKPOINT_FORMAT = 1
# train.py writes this file into its --out folder (by default the working directory).
TRAINED_WEIGHTS = "best_model_weights.pth"
# The default model that ships with the repository (see the model card in README.md).
BUNDLED_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", TRAINED_WEIGHTS)
# The bundled model for detectors without hands or toes: the same data and flags as the default, `--input coco17`.
BUNDLED_COCO17_WEIGHTS = os.path.join(os.path.dirname(BUNDLED_WEIGHTS), "best_model_weights_coco17.pth")
WEIGHTS_HELP = (f"checkpoint (default: {TRAINED_WEIGHTS} in the working directory if train.py wrote one there, "
                f"else the bundled pretrained/{TRAINED_WEIGHTS})")


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


# ---------------------------------------------------------------------------
# Self-describing checkpoints
# ---------------------------------------------------------------------------
class CheckpointError(RuntimeError):
    """A weights file that is missing, corrupt, or not one of ours; the message names the file."""


def save_checkpoint(path: str, model: nn.Module, arch: str, config: dict, input_mode: str, norm_stats,
                    extra: dict | None = None) -> None:
    """Write weights, architecture, config, input mode, joint set and normalisation, atomically."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch,
        "config": dict(config),
        "input_mode": input_mode,
        "joint_names": list(sk.JOINT_NAMES),
        "norm_stats": torch.as_tensor(norm_stats, dtype=torch.float32).cpu(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    atomic_torch_save(checkpoint, path)


def atomic_torch_save(obj, path: str) -> None:
    """torch.save to a temporary file beside `path`, then rename: a kill never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def default_weights() -> str:
    """The weights a script uses without --weights: train.py's output here, else the bundled model."""
    return TRAINED_WEIGHTS if os.path.isfile(TRAINED_WEIGHTS) else BUNDLED_WEIGHTS


def weights_for_layout(layout: str) -> tuple[str, str | None]:
    """The weights for keypoints of a skeleton_utils layout without --weights, and a note when they are a stand-in.

    MediaPipe's landmarks go to default_weights(). Layouts without hands (COCO-17, OpenPose's
    COCO-18 and BODY_25) go to the bundled model trained with `--input coco17`, which never saw a
    hand or a toe, when it is there; else to default_weights(), which then sees them all unseen.
    """
    if layout == "mediapipe":
        return default_weights(), None
    if os.path.isfile(BUNDLED_COCO17_WEIGHTS):
        return BUNDLED_COCO17_WEIGHTS, None
    fallback = default_weights()
    return fallback, (f"no model for {layout} keypoints ({BUNDLED_COCO17_WEIGHTS}, trained with --input coco17); "
                      f"using {fallback}, trained on MediaPipe's joints, with the hands and toes unseen")


def read_checkpoint(path: str, map_location="cpu") -> dict:
    """torch.load(weights_only=True) with errors that name the file and the fix."""
    if not os.path.isfile(path) and os.path.abspath(path) == BUNDLED_WEIGHTS:
        raise CheckpointError(
            f"{path}: the bundled weights are missing; restore them with `git checkout -- pretrained/` "
            f"or train a model with `python train.py --synthetic 200000`."
        )
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{path}: weights file not found. Train one with `python train.py --synthetic 200000` or "
            f"omit --weights to use the bundled model."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"{path}: cannot read the weights file; it is corrupt, truncated or not a PyTorch checkpoint "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})."
        ) from err
    required = ("arch", "config", "input_mode", "norm_stats", "state_dict")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in required):
        raise CheckpointError(
            f"{path}: not a checkpoint of this project (it needs the keys {required}); save one with train.py."
        )
    return checkpoint


def load_checkpoint(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model described by a checkpoint, in eval mode; returns (model, checkpoint)."""
    checkpoint = read_checkpoint(path)
    if list(checkpoint.get("joint_names", sk.JOINT_NAMES)) != list(sk.JOINT_NAMES):
        raise CheckpointError(f"{path}: was trained on a different joint set than the 28 MPI-INF-3DHP joints.")
    try:
        model = build_model(checkpoint["arch"], **checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except (ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(
            f"{path}: its weights do not fit the architecture it names ({checkpoint['arch']}, "
            f"{checkpoint['config']}): {str(err).splitlines()[0]}"
        ) from err
    return model.to(device).eval(), checkpoint


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; an explicit CUDA request without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise SystemExit(f"error: --device {name!r} is not a device name ({err}); use auto, cpu or cuda.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: CUDA is not available on this machine; use --device cpu.")
    return device


def load_lifter(path: str, device: str | torch.device = "cpu") -> tuple[Lifter, dict]:
    """The checkpoint as a Lifter taking raw pixel joints; returns (lifter in eval mode, checkpoint)."""
    model, checkpoint = load_checkpoint(path, device)
    return Lifter(model, checkpoint["norm_stats"]).to(device).eval(), checkpoint


if __name__ == "__main__":
    for name in ARCHITECTURES:
        net = build_model(name)
        print(f"{name}: {count_parameters(net):,} parameters")
