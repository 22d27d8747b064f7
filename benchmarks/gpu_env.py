"""Check that this python can run catsmt on the GPU scripts' machine; print what it has.

Exits non-zero, naming what is missing, when a package is absent or torch sees no CUDA device
(unless REQUIRE_CUDA=0, for a dry run on the CPU). Used by gpu_check.sh and gpu_research.sh.
"""

import importlib.util
import os
import sys

NEEDED = ("torch", "numpy", "yaml", "sentencepiece", "sacrebleu", "tqdm", "matplotlib", "tensorboard")

missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing python packages: {', '.join(missing)} (carry them as wheels)")
import torch  # noqa: E402 - only once the packages are known to be there

if torch.cuda.is_available():
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {torch.cuda.get_device_name()}")
elif os.environ.get("REQUIRE_CUDA", "1") != "0":
    sys.exit("torch sees no CUDA device (REQUIRE_CUDA=0 runs anyway, for a dry run on the CPU)")
