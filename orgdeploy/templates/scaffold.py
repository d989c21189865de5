"""`orgdeploy init`: copy the commented example config and the default pack."""

from __future__ import annotations

from pathlib import Path

from orgdeploy.config.model import CONFIG_FILENAME
from orgdeploy.errors import BadInputError
from orgdeploy.templates.jinja import cfn_dir

EXAMPLE_CONFIG = "orgdeploy.example.yaml"
DEFAULT_PACK = Path("packs") / "baseline.yaml"


def write_example(directory: Path, *, force: bool) -> list[Path]:
    """Write DIR/orgdeploy.yaml and DIR/packs/baseline.yaml; refuse to overwrite unless force."""
    source = cfn_dir()
    plan = [
        (directory / CONFIG_FILENAME, source / EXAMPLE_CONFIG),
        (directory / DEFAULT_PACK, source / DEFAULT_PACK),
    ]
    existing = [str(target) for target, _ in plan if target.exists()]
    if existing and not force:
        raise BadInputError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    if directory.exists() and not directory.is_dir():
        raise BadInputError(f"{directory}: not a folder")
    for target, origin in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(origin.read_text(encoding="utf-8"), encoding="utf-8")
    return [target for target, _ in plan]
