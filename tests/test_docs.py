"""The documentation site builds, and its examples run, so the docs never drift from the code.

Convention for code blocks in ``docs/*.md`` (fences start at column 0):

- A block fenced as ```` ```python ```` is **runnable**. Every runnable block of a page
  runs, in page order, in one fresh IPython shell (so ``%mj`` and ``%config`` lines work
  as in a notebook), against the embedded simulator (provider ``local``,
  ``MJNB_SIM_LATENCY=0.3``) with ``MJNB_HOME`` in a temp dir and the temp dir as the
  working directory. A block that raises fails the test, naming the page and line.
- A ```` ```python ```` block whose first line starts with ``# not run`` is shown but not
  run; say why on that line (``# not run: needs a real key``). Use it only for code that
  needs a real provider, a second process or a browser.
- Any other fence (```` ```bash ````, ```` ```text ````, ```` ```pycon ````) is never run.
  ``mjnb serve|imagine|log`` lines in ```` ```bash ```` blocks are checked against the
  command's ``--help``: every ``--option`` the docs show must exist.

Every page must open with a runnable example (its first code block).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOT_RUN = "# not run"
_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str

    @property
    def runnable(self) -> bool:
        return self.info == "python" and not self.code.lstrip().startswith(NOT_RUN)

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def code_blocks(page: Path) -> list[Block]:
    """Every fenced code block of a page, in order."""
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m["info"].strip(), m["body"])
        for m in _FENCE.finditer(text)
    ]


def test_the_docs_have_the_pages_the_spec_names() -> None:
    names = {p.stem for p in PAGES}
    wanted = {"index", "quickstart", "magic", "panel", "sweeps", "python-api", "providers"}
    wanted |= {"simulator", "log", "troubleshooting", "cli"}
    assert wanted <= names, f"missing pages: {sorted(wanted - names)}"
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"{page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_page_opens_with_a_runnable_example(page: Path) -> None:
    blocks = code_blocks(page)
    assert blocks, f"{page.name} has no code block"
    first = blocks[0]
    assert first.runnable, f"{first.where()}: a page must open with a runnable ```python block"
    # ... and opens with it: nothing but the title and at most one short paragraph before
    head = page.read_text(encoding="utf-8").splitlines()[: first.line - 1]
    prose = [line for line in head if line.strip() and not line.startswith("#")]
    assert len(prose) <= 4, f"{page.name}: put the example right after the title"


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh IPython shell on the embedded simulator, cleaned up afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    import mjnb
    from mjnb.config import Settings, configure

    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mjnb, "_default", None)
    ipython = InteractiveShell.instance()
    ipython.reset(new_session=False)
    yield ipython
    from mjnb.notebook.magic import unload_ipython_extension

    unload_ipython_extension(ipython)
    if ipython.extension_manager is not None:
        ipython.extension_manager.loaded.discard("mjnb")
    ipython.reset(new_session=False)
    configure(**dict.fromkeys(Settings.__dataclass_fields__))  # forget %config/configure


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_examples_run_on_the_simulator(page: Path, shell: object) -> None:
    blocks = [b for b in code_blocks(page) if b.runnable]
    if not blocks:
        pytest.skip(f"{page.name} has no runnable block")
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = shell.run_cell(block.code, store_history=False)  # type: ignore[attr-defined]
        error = result.error_before_exec or result.error_in_exec
        assert error is None, (
            f"{block.where()}: the example raised {type(error).__name__}: {error}\n"
            f"--- code ---\n{block.code}--- output ---\n{out.getvalue()[-3000:]}"
        )


_CLI_LINE = re.compile(r"^\s*(?:\$\s*)?mjnb\s+(?P<command>serve|imagine|log)\b(?P<rest>.*)$")


def test_cli_options_in_the_docs_exist(capsys: pytest.CaptureFixture[str]) -> None:
    from mjnb.cli import main

    helps: dict[str, str] = {}
    shown = 0
    for page in PAGES:
        for block in code_blocks(page):
            if block.info not in ("bash", "sh", "console", "text"):
                continue
            for line in block.code.splitlines():
                match = _CLI_LINE.match(line.split("#", 1)[0])
                if not match:
                    continue
                command = match["command"]
                if command not in helps:
                    with pytest.raises(SystemExit):
                        main([command, "--help"])
                    helps[command] = capsys.readouterr().out
                rest = re.sub(r"\"[^\"]*\"|'[^']*'", "", match["rest"])  # not a prompt's --ar
                for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                    shown += 1
                    assert option in helps[command], (
                        f"{block.where()}: `mjnb {command}` has no option {option}"
                    )
    assert shown, "the docs show no mjnb command-line option at all"


def test_environment_variables_in_the_docs_exist() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "mjnb").rglob("*.py"))
    for page in PAGES:
        for name in set(re.findall(r"\bMJNB_[A-Z_]+[A-Z]\b", page.read_text(encoding="utf-8"))):
            assert name in source, f"{page.name} names {name}, which mjnb never reads"


def test_magic_settings_in_the_docs_exist() -> None:
    from mjnb.notebook.magic import MJMagic

    traits = set(MJMagic.class_trait_names(config=True))
    for page in PAGES:
        for name in re.findall(r"MJMagic\.(\w+)", page.read_text(encoding="utf-8")):
            assert name in traits, f"{page.name} names MJMagic.{name}, which is no setting"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install 'mkdocs>=1.6' (in the test extras)")
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
    command += ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    for page in PAGES:
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"
