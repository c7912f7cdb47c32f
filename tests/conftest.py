import os

import pytest
import torch

from promptgen.allocator import reuse_freed_memory

# The default suite runs on 2-core CI machines: keep intra-op threads modest and deterministic.
torch.set_num_threads(int(os.environ.get("PROMPTGEN_TEST_THREADS", "2")))
reuse_freed_memory()  # the suite renders many batches; see promptgen.allocator


@pytest.fixture
def recording_compile(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace ``torch.compile`` (as promptgen.device calls it) by eager calls that record their batch size.

    Returns the list that fills with the leading size of each call's first argument (a tensor, or a scene).
    """
    import promptgen.device as device

    seen: list[int] = []

    def compile_(fn, **kwargs):
        def run(first, *rest):
            seen.append(first.shape[0] if isinstance(first, torch.Tensor) else first.yaw.shape[0])
            return fn(first, *rest)

        return run

    monkeypatch.setattr(device.torch, "compile", compile_)
    return seen
