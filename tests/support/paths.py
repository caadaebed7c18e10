"""Where the tests' recorded data lives (``tests/fixtures``), named once for every test package."""

from __future__ import annotations

from pathlib import Path

AMI_FIXTURES = Path(__file__).parents[1] / "fixtures" / "ami"
