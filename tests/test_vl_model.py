"""``turngym models tiny-vl``: a tiny random Qwen2-VL built locally; transformers loads it, its image
processor turns an image into the number of placeholder tokens its grid gives."""

import json

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from tests.image_env import png  # noqa: E402
from tools.content import image_part  # noqa: E402


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):
    from typer.testing import CliRunner

    from turngym.cli import app

    out = tmp_path_factory.mktemp("models") / "tiny-vl"
    result = CliRunner().invoke(app, ["models", "tiny-vl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_tiny_vl_is_a_qwen2_vl_with_its_own_tokens_and_a_small_image_processor(tiny_vl):
    config = json.loads((tiny_vl / "config.json").read_text())
    assert config["architectures"] == ["Qwen2VLForConditionalGeneration"] and config["model_type"] == "qwen2_vl"
    text, vision = config["text_config"], config["vision_config"]
    assert (text["hidden_size"] // text["num_attention_heads"], text["num_hidden_layers"]) == (64, 2)
    assert text["rope_parameters"]["mrope_section"] == [8, 12, 12]  # sums to head_dim / 2
    assert (vision["depth"], vision["embed_dim"], vision["patch_size"], vision["spatial_merge_size"]) == (2, 64, 14, 2)
    processor = json.loads((tiny_vl / "preprocessor_config.json").read_text())
    assert processor["size"] == {"shortest_edge": 28 * 28 * 4, "longest_edge": 28 * 28 * 16}

    from transformers import AutoModelForImageTextToText, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_vl)
    names = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<|im_start|>", "<|im_end|>"]
    ids = [tok.convert_tokens_to_ids(n) for n in names]
    assert ids[:4] == [config["vision_start_token_id"], config["vision_end_token_id"], config["image_token_id"],
                       config["video_token_id"]]
    assert [tok.encode(n, add_special_tokens=False) for n in names] == [[i] for i in ids]  # one token each
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "Screen:"}, {"type": "image"}]}], tokenize=False,
        add_generation_prompt=True)
    assert rendered == "<|im_start|>user\nScreen:<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    model = AutoModelForImageTextToText.from_pretrained(tiny_vl)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) == 702_208


def test_auto_processor_loads_where_torchvision_is_installed(tiny_vl):
    pytest.importorskip("torchvision", reason="transformers' Qwen2-VL AutoProcessor needs torchvision (its video processor); "
                                              "agents.vision uses the image processor alone")
    from transformers import AutoProcessor

    assert type(AutoProcessor.from_pretrained(tiny_vl)).__name__ == "Qwen2VLProcessor"


@pytest.mark.parametrize(("size", "grid", "tokens"), [
    ((64, 40), (1, 4, 6), 6),  # 2,560 px < min_pixels: scaled up to 84 x 56 px, 6 x 4 patches of 14 px
    ((300, 200), (1, 6, 8), 12),  # to 112 x 84 px (within [3,136, 12,544]): 8 x 6 patches, 2 x 2 merged
    ((800, 600), (1, 6, 8), 12),  # a GUITrace screen, scaled down to max_pixels
    ((1280, 800), (1, 6, 10), 15),  # 140 x 84 px
])
def test_an_image_expands_to_its_grid_over_the_merge_squared(tiny_vl, size, grid, tokens):
    from agents.vision import VisionProcessor

    vision = VisionProcessor(tiny_vl)
    url = image_part(png(*size, (200, 30, 30)))["image_url"]["url"]
    pixel_values, got = vision.process(url)
    assert got == grid and vision.num_tokens(url) == tokens
    assert tuple(pixel_values.shape) == (grid[1] * grid[2], 3 * 2 * 14 * 14)  # patches x (channels, temporal, 14, 14)
    pad = vision.image_token_id
    ids, mask = vision.expand([7, pad, 9], [url], [0, 0, 1])
    assert ids == [7] + [pad] * tokens + [9] and mask == [0] * (tokens + 1) + [1]
    with pytest.raises(ValueError, match="2 image placeholders in the sequence but 1 images"):
        vision.expand([pad, pad], [url])
