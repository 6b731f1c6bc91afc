"""The front door stays true: every relative link in the README and docs/ leads to a file that
exists, and the README's layout names every room of function/ (the tree, not a memory of it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.servers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_lead_to_files(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing {missing}"


def test_the_readme_layout_names_every_room_of_function() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("\n## ")]
    rooms = sorted(
        f"function/{p.name}/" for p in (ROOT / "function").iterdir() if (p / "__init__.py").is_file()
    )
    entry_points = sorted(
        f"function/{p.name}" for p in (ROOT / "function").glob("*.py") if p.name != "__init__.py"
    )
    missing = [name for name in rooms + entry_points if f"`{name}`" not in layout]
    assert rooms and not missing, f"the README's layout leaves out {missing}"
