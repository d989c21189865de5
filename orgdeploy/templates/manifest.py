"""Write a rendered set and its manifest.json to a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orgdeploy import __version__
from orgdeploy.config.model import Config
from orgdeploy.templates.render import render_all


def write_render_output(config: Config, out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """Render everything first, then write; a render error leaves out_dir untouched."""
    rendered = render_all(config)
    manifest = {"orgdeploy_version": __version__, "home_region": config.home_region, **rendered.manifest()}
    files: list[tuple[Path, str]] = [(out_dir / t.filename, t.body) for t in rendered.templates]
    files += [(out_dir / b.filename, b.body) for b in rendered.pack_bodies]
    files.append((out_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n"))
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return manifest, [path for path, _ in files]
