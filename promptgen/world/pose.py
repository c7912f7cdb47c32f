"""Head pose of the embedded world: (pitch, yaw, roll) <-> rotation matrices, in the world's convention.

R = R_z(roll) · R_y(yaw) · R_x(pitch) (:func:`promptgen.rotations.euler_angles_to_matrix` of (roll, yaw,
pitch) in convention "ZYX"): the world renders heads and its pose regressor composes rotations this way. The
pose energy's requested rotation R(α) R_can uses the paper code's "XYZ" product instead; both are rotation
matrices, so the energy compares them whatever convention made each.

Camera frame: x right, y up, z towards the viewer; a frontal face is R = I.
Positive yaw turns the nose towards the viewer's right (+x), positive pitch tilts the nose down (−y),
positive roll turns the face counter-clockwise as the viewer sees it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.rotations import euler_angles_to_matrix

__all__ = ["WorldPoseRegressor", "angles_to_rotation", "load_world_pose", "rotation_to_angles"]


def angles_to_rotation(pitch: Tensor, yaw: Tensor, roll: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) from pitch, yaw and roll in radians."""
    return euler_angles_to_matrix(torch.stack([roll, yaw, pitch], -1), "ZYX")


def rotation_to_angles(rot: Tensor) -> Tensor:
    """Inverse of :func:`angles_to_rotation` for |yaw| < π/2: (..., 3) = (pitch, yaw, roll)."""
    yaw = torch.asin((-rot[..., 2, 0]).clamp(-1, 1))
    pitch = torch.atan2(rot[..., 2, 1], rot[..., 2, 2])
    roll = torch.atan2(rot[..., 1, 0], rot[..., 0, 0])
    return torch.stack([pitch, yaw, roll], -1)


class WorldPoseRegressor(nn.Module):
    """Images in [−1, 1] -> head rotations (N, 3, 3), the inverse-graphics (DECA) analog.

    Arguments:
        net: a trained :class:`~promptgen.world.nets.ConvNet` with head ``angles`` regressing
            ``ANGLE_SCALE · (pitch, yaw, roll)``.
        angle_scale: the scale the angles were regressed at.
    """

    def __init__(self, net: nn.Module, angle_scale: float):
        super().__init__()
        self.net, self.angle_scale = net, float(angle_scale)

    def angles(self, x: Tensor) -> Tensor:
        """(N, 3) = (pitch, yaw, roll) in radians."""
        return self.net(x)["angles"] / self.angle_scale

    def forward(self, x: Tensor) -> Tensor:
        a = self.angles(x)
        return angles_to_rotation(a[:, 0], a[:, 1], a[:, 2])


@MODELS.register("world-pose")
def load_world_pose(
    checkpoint: str | Path, device: str | torch.device = "cpu", compile: bool | str = False
) -> WorldPoseRegressor:
    """Load the world's pose regressor from an explicit ``checkpoint`` path."""
    from promptgen.world.nets import load_checkpoint

    net, meta = load_checkpoint(checkpoint, role="pose", compile=compile)
    return WorldPoseRegressor(net, meta.get("angle_scale", 3.0)).to(device)
