"""Message content: a string, or a list of OpenAI content parts.

The parts turngym knows:

* ``{"type": "text", "text": str}``;
* ``{"type": "image_url", "image_url": {"url": URL}}`` where URL is a data URL
  (``data:image/png;base64,...``) or a file reference (``file:///abs/path.png``); ``detail`` may
  be given as OpenAI defines it.

A tool may return such a list (a screenshot with a caption); envs, spaces, the checker, the
policies and trajectory files all accept it.  :func:`content_problem` says what is wrong with a
content value (None when it is valid); :func:`content_text` gives its text alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

Content = str | list[dict[str, Any]]

_DATA_URL = re.compile(r"^data:(?P<mime>image/[A-Za-z0-9.+-]+);base64,(?P<data>.*)$", re.DOTALL)
IMAGE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
_MIME_OF_SUFFIX = {suffix: mime for mime, suffix in IMAGE_SUFFIX.items()} | {".jpeg": "image/jpeg"}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(data: bytes, mime: str = "image/png") -> dict[str, Any]:
    """An ``image_url`` part holding ``data`` inline, as a base64 data URL."""
    if mime not in IMAGE_SUFFIX:
        raise ValueError(f"unsupported image type {mime!r}; use one of {sorted(IMAGE_SUFFIX)}")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"}}


def image_file_part(path: str | Path) -> dict[str, Any]:
    """An ``image_url`` part that refers to a file (``file://`` URL of its absolute path)."""
    return {"type": "image_url", "image_url": {"url": Path(path).resolve().as_uri()}}


def part_problem(part: Any) -> str | None:
    """What is wrong with one content part, or None."""
    if not isinstance(part, dict):
        return f"a content part must be an object, got {type(part).__name__}"
    kind = part.get("type")
    if kind == "text":
        return None if isinstance(part.get("text"), str) else 'a "text" part needs a string "text"'
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            return 'an "image_url" part needs {"image_url": {"url": ...}}'
        if _DATA_URL.match(url) or url.startswith("file://"):
            return None
        return f"an image url must be a base64 data:image/... URL or a file:// reference, got {url[:40]!r}"
    return f'unknown content part type {kind!r}; known: "text", "image_url"'


def content_problem(content: Any) -> str | None:
    """What is wrong with a message's content (a string or a list of parts), or None."""
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"content must be a string or a list of content parts, got {type(content).__name__}"
    for i, part in enumerate(content):
        problem = part_problem(part)
        if problem:
            return f"part {i + 1}: {problem}"
    return None


def is_content_parts(value: Any) -> bool:
    return isinstance(value, list) and content_problem(value) is None


def content_text(content: Content) -> str:
    """The text of a content value: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text")


def image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [p["image_url"]["url"] for p in content if isinstance(p, dict) and p.get("type") == "image_url"]


def decode_image_url(url: str) -> tuple[str, bytes]:
    """(mime type, bytes) of a data URL or a ``file://`` reference."""
    m = _DATA_URL.match(url)
    if m:
        try:
            return m.group("mime"), base64.b64decode(m.group("data"), validate=True)
        except binascii.Error as e:
            raise ValueError(f"the image data URL is not valid base64: {e}") from None
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        mime = _MIME_OF_SUFFIX.get(path.suffix.lower())
        if mime is None:
            raise ValueError(f"unknown image type for {path.name!r}: name it .png, .jpg, .gif or .webp")
        return mime, path.read_bytes()
    raise ValueError(f"not an image data URL or file:// reference: {url[:40]!r}")


def to_data_url(url: str) -> str:
    """A data URL for ``url`` (file references are read and inlined; data URLs are returned as is)."""
    if url.startswith("data:"):
        return url
    mime, data = decode_image_url(url)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
