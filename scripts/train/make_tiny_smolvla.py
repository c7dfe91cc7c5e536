"""Write a tiny, randomly initialised SmolVLM2-architecture model directory, with no download.

Why: SmolVLA needs a VLM directory (``policy.vlm_model_name``) holding a ``SmolVLMConfig``
config.json and a ``SmolVLMProcessor`` (image processor, video processor, tokenizer). CI and
offline boxes cannot fetch SmolVLM2-500M, so smoke tests train against this tiny stand-in:
the real architecture classes (SmolVLMConfig, Llama text model, SigLIP-style vision model),
a real byte-level BPE tokenizer trained here on a small English corpus, and the special tokens
LeRobot reads (``fake_image_token_id``, ``global_image_token_id``). With
``--policy.load_vlm_weights=false`` LeRobot builds the model from config.json; ``--weights``
also saves random weights so ``load_vlm_weights=true`` works too.

Runs in envs/smolvla.  Usage: python -m scripts.train.make_tiny_smolvla --out DIR [--image-size 64]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

# Special tokens as SmolVLM2's tokenizer names them (HuggingFaceTB/SmolVLM2-500M-Video-Instruct).
BOS, EOS, PAD, UNK = "<|im_start|>", "<end_of_utterance>", "<|im_end|>", "<unk>"
IMAGE_TOKENS = {
    "fake_image_token": "<fake_token_around_image>",
    "image_token": "<image>",
    "global_image_token": "<global-img>",
    "end_of_utterance_token": EOS,
}
CORPUS = [
    "pick the cube and place it in the box",
    "grasp the object on the table and put it into the storage box",
    "move the arm to the left, open the gripper, close the gripper",
    "stack the red block on the blue block, then sort the parts",
    "push the button, lift the cup, pour the water, wipe the table",
    "User: What action should the robot take? Assistant: move forward",
    "zero one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9",
]


def build_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer trained on CORPUS, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [UNK, BOS, PAD, *dict.fromkeys(IMAGE_TOKENS.values())]
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        extra_special_tokens=IMAGE_TOKENS,
        model_max_length=2048,
    )


def build(out: Path, image_size: int, hidden: int, layers: int, weights: bool) -> dict:
    """Write config, processor and (optionally) weights to ``out`` atomically; return facts."""
    import torch
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(vocab_size=400)
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKENS["image_token"])
    patch = max(8, image_size // 4)
    scale = 2
    seq_len = ((image_size // patch) ** 2) // (scale**2)
    config = SmolVLMConfig(
        image_token_id=image_token_id,
        scale_factor=scale,
        pad_token_id=tokenizer.pad_token_id,
        vision_config={
            "hidden_size": hidden // 2,
            "intermediate_size": hidden,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": hidden * 2,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": hidden // 4,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
    )
    image_processor = SmolVLMImageProcessor(
        do_image_splitting=False,
        size={"longest_edge": image_size},
        max_image_size={"longest_edge": image_size},
    )
    video_processor = SmolVLMVideoProcessor(
        size={"longest_edge": image_size}, max_image_size={"longest_edge": image_size}
    )
    processor = SmolVLMProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        image_seq_len=seq_len,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        config.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        n_params = None
        if weights:
            model = SmolVLMForConditionalGeneration(config)
            n_params = sum(p.numel() for p in model.parameters())
            model.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"dir": str(out), "vocab": len(tokenizer), "image_seq_len": seq_len, "params": n_params}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--image-size", type=int, default=64, help="= policy.resize_imgs_with_padding")
    ap.add_argument("--hidden", type=int, default=64, help="text hidden size (multiple of 8)")
    ap.add_argument("--layers", type=int, default=2, help="text layers (SmolVLA: even)")
    ap.add_argument("--weights", action="store_true", help="also save random weights")
    args = ap.parse_args(argv)
    facts = build(args.out, args.image_size, args.hidden, args.layers, args.weights)
    print(f"tiny SmolVLM2: {facts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
