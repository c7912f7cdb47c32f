"""PromptGen: distributional control of a frozen generator with an INN in its latent space.

Wu, Motamed, Srivastava, De la Torre, "Generative Visual Prompt: Unifying Distributional Control of
Pre-Trained Generative Models", NeurIPS 2022 (arXiv:2209.06970).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
