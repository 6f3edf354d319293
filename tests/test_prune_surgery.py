"""Model surgery (ranker.prune_surgery) on a tiny random Qwen3: calibration prompts and
the down projection's Hessian, MLP neurons cut by OSSCAR and by magnitude, layers removed;
every cut model saves and reloads with plain transformers."""

import pytest
import torch

from ranker.prune_surgery import calibration_batches, check_family, down_proj_hessian, prune_mlp, remove_layers
from ranker.scoring import load_ranker
from ranker.tiny import build_tiny_ranker
from jobdata import load_dataset


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, synthetic_data_dir):
    model_dir = build_tiny_ranker(tmp_path_factory.mktemp("prune") / "model", num_layers=3, hidden_size=32, num_heads=2, intermediate_size=64, initializer_range=0.3, seed=2)
    ranker = load_ranker(model_dir, max_length=128)
    batches = calibration_batches(ranker, load_dataset(synthetic_data_dir), pairs=48, batch_size=16, seed=0)
    return model_dir, batches


def test_calibration_draws_the_asked_number_of_prompts_shortest_first(calibrated):
    _, batches = calibrated
    assert [ids.shape[0] for ids, _ in batches] == [16, 16, 16]
    lengths = [int(n) for _, mask in batches for n in mask.sum(dim=1)]
    assert lengths == sorted(lengths)
    assert all(mask[:, -1].all() for _, mask in batches)  # left padding: every prompt ends at the last column


def test_osscar_beats_magnitude_on_every_layer_and_the_model_reloads(calibrated, tmp_path):
    from transformers import AutoModelForCausalLM

    model_dir, batches = calibrated
    errors = {}
    for method in ("osscar", "magnitude"):
        ranker = load_ranker(model_dir, max_length=128)
        errors[method] = [r.error for r in prune_mlp(ranker.model, keep=32, method=method, batches=batches)]
        ranker.model.save_pretrained(tmp_path / method)
    assert all(o < m for o, m in zip(errors["osscar"], errors["magnitude"])), errors
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "osscar")
    assert reloaded.config.intermediate_size == 32
    assert all(layer.mlp.down_proj.weight.shape == (32, 32) and layer.mlp.gate_proj.weight.shape == (32, 32) for layer in reloaded.model.layers)


def test_hessian_ignores_padding(calibrated):
    model_dir, batches = calibrated
    model = load_ranker(model_dir, max_length=128).model
    padded = down_proj_hessian(model, 1, batches[:1])
    # The same prompts one at a time, unpadded: the same H.
    input_ids, attention_mask = batches[0]
    rows = [(ids[mask.bool()][None], torch.ones(1, int(mask.sum()), dtype=torch.long)) for ids, mask in zip(input_ids, attention_mask)]
    unpadded = down_proj_hessian(model, 1, rows)
    # float32 forwards of padded and unpadded rows differ in the last bits; a leaked pad
    # token would change H by orders of magnitude more.
    assert float((padded - unpadded).norm() / unpadded.norm()) < 1e-5


def test_removing_layers_renumbers_and_reloads(calibrated, tmp_path):
    from transformers import AutoModelForCausalLM

    model_dir, _ = calibrated
    model = load_ranker(model_dir).model
    kept_weight = model.model.layers[2].mlp.up_proj.weight.clone()
    remove_layers(model, [1])
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1]
    model.save_pretrained(tmp_path / "two")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "two")
    assert reloaded.config.num_hidden_layers == 2 and len(reloaded.config.layer_types) == 2
    assert torch.equal(reloaded.model.layers[1].mlp.up_proj.weight, kept_weight)


def test_a_family_without_the_llama_layout_is_refused():
    from transformers import GPT2Config

    with pytest.raises(ValueError, match="model family 'gpt2' is not supported for pruning; supported: llama, mistral, qwen2, qwen3"):
        check_family(GPT2Config(n_layer=1, n_embd=8, n_head=2))
