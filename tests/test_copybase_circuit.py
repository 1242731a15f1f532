"""The hand-written copy circuit that tiny-base starts from: a previous-token head made of RoPE
phases alone, and induction heads that, with no training, continue a random sequence's second copy."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.copybase.circuit import (  # noqa: E402
    ROPE_THETA,
    previous_token_phases,
    repeat_accuracy,
    rope_frequencies,
    write_copy_circuit,
)


def _llama(hidden=256, layers=2, tied=False):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1024, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                         num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64, head_dim=64,
                         tie_word_embeddings=tied, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA})
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("back", [1, 2])
def test_rope_phases_alone_make_a_head_attend_a_fixed_distance_back(back):
    freqs = rope_frequencies()
    w, worst = previous_token_phases(freqs, list(range(12)), max_len=1024, back=back)
    assert worst > 0.95
    # the score the weights give, recomputed from RoPE's rotation: its maximum is at d = back
    d = torch.arange(1024, dtype=torch.float64)[:, None] * freqs[:12][None, :]
    score = (w[:, 0] * torch.cos(d) - w[:, 1] * torch.sin(d)).sum(-1)
    assert int(score.argmax()) == back


def test_an_untrained_model_with_the_circuit_continues_a_repeated_sequence():
    model = _llama()
    assert repeat_accuracy(model, 1024) < 0.01  # random weights: chance
    figures = write_copy_circuit(model, seed=0)
    assert figures["previous_token_mass"] > 0.95
    assert repeat_accuracy(model, 1024) > 0.95
    assert repeat_accuracy(model, 1024, half=600, n=2) > 0.9  # the match does not fade over the context


def test_the_circuit_refuses_a_model_it_cannot_be_written_into():
    with pytest.raises(ValueError, match="hidden >= 256"):
        write_copy_circuit(_llama(hidden=192))
    with pytest.raises(ValueError, match="untied"):
        write_copy_circuit(_llama(tied=True))
    with pytest.raises(ValueError, match="induction_heads"):
        write_copy_circuit(_llama(), induction_heads=5)
