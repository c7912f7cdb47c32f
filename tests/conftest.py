import os

import torch

from promptgen.allocator import reuse_freed_memory

# The default suite runs on 2-core CI machines: keep intra-op threads modest and deterministic.
torch.set_num_threads(int(os.environ.get("PROMPTGEN_TEST_THREADS", "2")))
reuse_freed_memory()  # the suite renders many batches; see promptgen.allocator
