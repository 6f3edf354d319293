import pytest

from ranker.template import PromptTemplate
from ranker.tiny import build_tiny_ranker


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """Tiny random Qwen3 and Llama rankers with the real Qwen3 tokenizer. A large init
    scale makes their label probabilities vary from pair to pair, so parity checks bite."""
    root = tmp_path_factory.mktemp("models")
    shape = dict(seed=1, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, initializer_range=0.5)
    dirs = {arch: build_tiny_ranker(root / arch, arch=arch, **shape) for arch in ("qwen3", "llama")}
    dirs["item-first"] = build_tiny_ranker(root / "item-first", arch="qwen3", template=PromptTemplate.item_first_default(), **shape)
    return dirs
