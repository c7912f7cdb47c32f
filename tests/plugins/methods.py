"""User de-biasing methods for the Table-2 tests, added through config alone (kind: python)."""

import torch

from promptgen.methods import DebiasMethod, Draws


class Broken(DebiasMethod):
    """A direction fit whose boundaries coincide: the Gram matrix is singular, as when a classifier labels
    every sample one class."""

    def sample(self, ctx, requests, seed):
        normals = torch.ones(2, ctx.generator.latent_dim)
        torch.linalg.solve(normals @ normals.T, torch.ones(2, len(requests)))
        return Draws(z=torch.zeros(len(requests), ctx.generator.latent_dim))


def make_broken() -> Broken:
    return Broken()


class StyleEdit(DebiasMethod):
    """Declares a need for a style space (sampling is not reached: validation rejects it first)."""

    needs = frozenset({"style_space"})

    def sample(self, ctx, requests, seed):
        raise AssertionError("a style-space method must not run on a generator without a style space")


def make_style_method() -> StyleEdit:
    return StyleEdit()
