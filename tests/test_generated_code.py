"""The committed booking_monitor_pb package matches what proto/generate.py writes now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_generator():
    spec = importlib.util.spec_from_file_location("proto_generate", REPO_ROOT / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_generated_code_up_to_date(tmp_path: Path) -> None:
    generator = load_generator()

    fresh = generator.generate(tmp_path)

    committed_root = REPO_ROOT / generator.PACKAGE
    fresh_root = tmp_path / generator.PACKAGE
    fresh_names = {p.relative_to(fresh_root) for p in fresh}
    committed_names = {
        p.relative_to(committed_root) for p in committed_root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert committed_names == fresh_names, "run `make proto`: the set of generated files changed"
    stale = [str(name) for name in sorted(fresh_names) if (committed_root / name).read_bytes() != (fresh_root / name).read_bytes()]
    assert stale == [], f"run `make proto`: generated files out of date: {stale}"


def test_every_proto_file_is_compiled() -> None:
    generator = load_generator()
    protos = [p.relative_to(generator.PROTO_ROOT) for p in generator.proto_files()]
    for proto in protos:
        module = REPO_ROOT / generator.PACKAGE / proto.parent / f"{proto.stem}_pb2.py"
        assert module.exists(), f"{proto} has no generated module {module}"
