"""The GPU machine's shell scripts (tools/*.sh) parse: a syntax error there would only show on the device, where
each call costs minutes of a session's 30."""
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "tools").glob("*.sh"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_parses(script):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not found")
    r = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
