import torch
from tests.plugins.user_generator import SquashedLinear
class Scaled(SquashedLinear):
    def __init__(self, scale=255.0, nan=False, flat=False, **kw):
        super().__init__(**kw); self.scale, self.nan, self.flat = scale, nan, flat
    def forward(self, z):
        x = super().forward(z) * self.scale
        if self.nan: x = x * float("nan")
        return x.flatten(1) if self.flat else x
def make(psi=1.0, **kw):
    return Scaled(latent_dim=kw.pop("latent_dim", 6), resolution=kw.pop("resolution", 8), psi=psi, **kw)
