"""VLM configs built offline from the pinned transformers' classes and published values.

Why: SmolVLA calls ``AutoConfig.from_pretrained(vlm_model_name)`` and
``AutoProcessor.from_pretrained(vlm_model_name)`` in its constructor, and nothing can be
downloaded here. The architecture is fully given by the config; the values below are copied
from the published ``config.json`` of ``HuggingFaceTB/SmolVLM2-500M-Video-Instruct`` (the
model card's files tab) and cross-checked against what they imply: 16 of the 32 text layers
(SmolVLA's ``num_vlm_layers``) plus the expert give LeRobot's published ~450 M parameters for
``smolvla_base``.

PI0 needs no download for its architecture in LeRobot 0.6.1: ``PaliGemmaWithExpertModel``
builds ``CONFIG_MAPPING["paligemma"]()`` (transformers' PaliGemma defaults: SigLIP So400m/14
vision tower) and sets the Gemma widths from ``get_gemma_config("gemma_2b"/"gemma_300m")`` in
``lerobot/policies/pi0/modeling_pi0.py``. What the published checkpoint adds is the tie of
PaliGemma's ``lm_head`` to the token embedding (PaliGemma's ``tie_word_embeddings``; LeRobot's
``_fix_pytorch_state_dict_keys`` copies ``lm_head.weight`` into ``embed_tokens.weight`` and
``from_pretrained`` ties them). :func:`tie_paligemma_lm_head` re-creates that tie; without it
the build counts 2048 x 257152 = 0.53 B parameters twice (4.0 B instead of ~3.5 B).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

# HuggingFaceTB/SmolVLM2-500M-Video-Instruct config.json (published values).
SMOLVLM2_500M_TEXT = {
    "model_type": "llama",
    "vocab_size": 49280,
    "hidden_size": 960,
    "intermediate_size": 2560,
    "num_hidden_layers": 32,
    "num_attention_heads": 15,
    "num_key_value_heads": 5,
    "head_dim": 64,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 100000.0,
    "tie_word_embeddings": False,
    "pad_token_id": 2,
}
SMOLVLM2_500M_VISION = {
    "model_type": "smolvlm_vision",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 512,
    "patch_size": 16,
    "num_channels": 3,
}
SMOLVLM2_500M = {"image_token_id": 49190, "scale_factor": 4, "tie_word_embeddings": False}
# The tokenizer's special-token ids LeRobot reads (tokenizer.json of the same repository).
SMOLVLM2_TOKENS = {"fake_image_token_id": 49189, "global_image_token_id": 49152}


def smolvlm2_500m_config() -> Any:
    """``SmolVLMConfig`` of SmolVLM2-500M-Video-Instruct, from the values above."""
    from transformers import SmolVLMConfig

    return SmolVLMConfig(
        text_config=dict(SMOLVLM2_500M_TEXT),
        vision_config=dict(SMOLVLM2_500M_VISION),
        **SMOLVLM2_500M,
    )


def smolvlm2_processor_stub() -> Any:
    """What SmolVLA reads from the processor: two special-token ids, nothing else.

    A real ``SmolVLMProcessor`` needs the tokenizer files; the training step only uses the two
    ids (``modeling_smolvla.py``: ``processor.tokenizer.fake_image_token_id`` and
    ``global_image_token_id``), so a namespace with exactly those is enough.
    """
    return SimpleNamespace(tokenizer=SimpleNamespace(**SMOLVLM2_TOKENS))


def tie_paligemma_lm_head(pi0_policy: Any) -> None:
    """Tie PaliGemma's lm_head to its token embedding, as the published checkpoint loads."""
    pg = pi0_policy.model.paligemma_with_expert.paligemma
    pg.lm_head.weight = pg.model.language_model.embed_tokens.weight
