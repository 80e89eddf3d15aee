"""The README's gallery was drawn by gallery/make_gallery.py from the current code and data."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

GALLERY = Path(__file__).resolve().parents[1] / "gallery"


def load_script():
    spec = importlib.util.spec_from_file_location("make_gallery", GALLERY / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path.name
    return struct.unpack(">II", data[16:24])


def test_gallery_matches_the_code_and_data() -> None:
    manifest = json.loads((GALLERY / "MANIFEST.json").read_text())
    assert manifest["sources"] == load_script().source_digests(), (
        "the plotting code or sample data changed: run python gallery/make_gallery.py"
    )
    for name, digest in manifest["images"].items():
        assert load_script().digest(GALLERY / name) == digest, name


def test_the_script_draws_every_gallery_image(tmp_path: Path) -> None:
    written = load_script().draw(tmp_path)
    manifest = json.loads((GALLERY / "MANIFEST.json").read_text())
    assert {path.name for path in written.values()} == set(manifest["images"])
    for path in written.values():
        assert png_size(path) == png_size(GALLERY / path.name), path.name


def test_the_readme_shows_the_gallery() -> None:
    readme = (GALLERY.parent / "README.md").read_text()
    for name in json.loads((GALLERY / "MANIFEST.json").read_text())["images"]:
        assert f"gallery/{name}" in readme, name
