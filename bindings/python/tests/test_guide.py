"""The guide's quick start (docs/bindings/python.md) runs as written: what a new user copies
first must work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import REPO


def quick_start() -> str:
    guide = (REPO / "docs" / "bindings" / "python.md").read_text()
    section = guide[guide.index("## Quick start") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def test_the_quick_start_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # it keeps its pool in users.db
    code = quick_start()
    assert "pool.sign_up(" in code and "pool.forgot_password(" in code
    scope: dict[str, object] = {}
    exec(compile(code, "docs/bindings/python.md", "exec"), scope)
    sent = scope["sent"]
    assert isinstance(sent, list) and len(sent) == 2, "the sign-up and the reset code went out"
    assert os.path.exists(tmp_path / "users.db")
    # Run twice, as the guide says, alice exists.
    with pytest.raises(Exception, match="already exists"):
        exec(compile(code, "docs/bindings/python.md", "exec"), {})
