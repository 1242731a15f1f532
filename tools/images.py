"""Image parts within a pixel and a byte cap: what an env may put in one observation.

An env's screenshot is as large as its viewport or its recorded trace, and a policy's context and a
trajectory file pay for every pixel.  :func:`fit_image_part` keeps an ``image_url`` part that fits;
scales a larger one down (aspect ratio kept; Pillow does the resizing) and says so in a text part
after it, since coordinates on a scaled screenshot are scaled too; and replaces one that cannot be
read or scaled with a visible ``[cut: ...]`` text part.  Fitting needs only the header (read here,
for PNG, JPEG, GIF and WebP), so an image that fits costs no decoding.
"""

from __future__ import annotations

import io
import math
import struct
from typing import Any

from tools.content import decode_image_url, image_part, text_part

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # JPEG frame headers


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF or WebP header; None when it is none of them or is cut short."""
    try:
        size = _header_size(data)
    except (struct.error, IndexError):
        return None
    return size if size and size[0] > 0 and size[1] > 0 else None


def _header_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        return None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
            elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                i += 2
            elif marker in _SOF:
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            else:
                i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def fit_image_part(part: dict[str, Any], max_pixels: int, max_bytes: int) -> list[dict[str, Any]]:
    """``[part]`` when its image fits both caps; else ``[scaled image, note]`` or ``[cut marker]``.

    ``max_bytes`` counts the image file's bytes (a data URL's text is 4/3 of that).  A ``file://``
    reference that fits stays a reference; a scaled image is inline.
    """
    try:
        mime, data = decode_image_url(part["image_url"]["url"])
    except (OSError, ValueError) as e:
        return [text_part(f"[cut: an image that cannot be read ({e})]")]
    size = image_size(data)
    if size is None:
        return [text_part(f"[cut: an image that cannot be read ({len(data):,} bytes of {mime}, not a PNG, JPEG, GIF or WebP image)]")]
    w, h = size
    if w * h <= max_pixels and len(data) <= max_bytes:
        return [part]
    what = f"an image of {w}x{h} pixels and {len(data):,} bytes, over the cap of {max_pixels:,} pixels and {max_bytes:,} bytes"
    try:
        scaled, (w2, h2) = _scale_down(data, mime, (w, h), max_pixels, max_bytes)
    except Exception as e:  # noqa: BLE001 - Pillow missing, a corrupt image, a format it cannot write: say so, never raise
        return [text_part(f"[cut: {what}; it could not be scaled down ({type(e).__name__}: {e})]")]
    note = f"[scaled: {what}, is shown at {w2}x{h2} pixels; scale its coordinates by {w / w2:.4g}]"
    return [image_part(scaled, mime if mime == "image/jpeg" else "image/png"), text_part(note)]


def _scale_down(data: bytes, mime: str, size: tuple[int, int], max_pixels: int, max_bytes: int) -> tuple[bytes, tuple[int, int]]:
    """The image re-encoded (JPEG stays JPEG, anything else becomes PNG) at the largest tried size within both caps."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    jpeg = mime == "image/jpeg"
    if image.mode not in (("RGB", "L") if jpeg else ("RGB", "RGBA", "L")):
        image = image.convert("RGB" if jpeg else "RGBA")
    w, h = size
    scale = min(1.0, math.sqrt(max_pixels / (w * h)))
    for _ in range(6):
        w2, h2 = max(1, int(w * scale)), max(1, int(h * scale))
        while w2 * h2 > max_pixels and max(w2, h2) > 1:  # float rounding: stay within the cap
            w2, h2 = (w2 - 1, h2) if w2 >= h2 else (w2, h2 - 1)
        out = io.BytesIO()
        image.resize((w2, h2), Image.Resampling.LANCZOS).save(out, format="JPEG" if jpeg else "PNG", **({"quality": 85} if jpeg else {}))
        if out.tell() <= max_bytes:
            return out.getvalue(), (w2, h2)
        scale *= min(0.9, math.sqrt(max_bytes / out.tell()))
    raise ValueError(f"still {out.tell():,} bytes at {w2}x{h2} pixels")
