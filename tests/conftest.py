import os

import torch

# The default suite runs on 2-core CI machines: keep intra-op threads modest and deterministic.
torch.set_num_threads(int(os.environ.get("PROMPTGEN_TEST_THREADS", "2")))
