"""The ``%mj`` magic: one line in a notebook, one call of the Python API.

    %load_ext mjnb
    t = %mj a red fox in snow --ar 3:2 --seed 7     # a live card; returns the Task
    %mj U2                                          # act on the last task
    %mj a red fox --seed {1, 2, 3}                  # permutations: a sweep
    %mj wait                                        # until every task here has ended

The magic parses its line and calls :class:`mjnb.Client`; cards and sweep views only
render state. Bad input never reaches a provider: it becomes one line
(``UsageError``), the way JupySQL reports errors. Settings are traitlets, listed by
``%config MJMagic``; setting one (``%config MJMagic.provider = "mjproxy"``) calls
:func:`mjnb.configure`, so it applies to every client made afterwards.

Saved notebooks: each card is displayed with a display id, and after every cell (and
in ``%mj wait``) the cards whose task has finished replace their output with a
static summary line and a small JPEG thumbnail, which GitHub and nbviewer show.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, observe
from traitlets.config import Configurable

from .. import config
from ..errors import MJError, PromptError, Timeout

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from ..client import Client
    from ..prompt import Prompt
    from ..sweep import Sweep
    from ..task import Task
    from .card import LiveView, TaskCard
    from .sweepview import SweepView

__all__ = ["MJMagic", "TaskBatch", "load_ipython_extension", "unload_ipython_extension"]

View = TypeVar("View", bound="LiveView")

#: longest side of a PIL image shown in a notebook while compact_images is on
COMPACT_SIDE = 1024

#: traits that are mjnb settings (see :class:`mjnb.config.Settings`): set -> configure()
SETTINGS = (
    "provider",
    "base_url",
    "max_concurrency",
    "poll_interval",
    "max_jobs",
    "thumbnail_size",
    "sim_latency",
)
_ACTION_WORDS = frozenset({"reroll", "vary", "zoom", "square", "pan", "upscale"})
_UV = re.compile(r"^[uv]\d+$", re.IGNORECASE)
_CONFIRM = re.compile(r"(?<!\S)--confirm(?!\S)")
_MAX_JOBS = re.compile(r"(?<!\S)--max-jobs(?:\s+|=)(\S+)(?!\S)")

USAGE = """\
%mj <prompt>                    imagine; shows a live card and returns the Task
                                ({a, b} permutations in the prompt start a sweep)
%mj imagine <prompt>            the same, for prompts that start with a command word
%mj U2 | V3 | reroll | vary strong | zoom 2x | pan left | upscale creative ...
                                act on the last task; add a task id to act on another
%mj sweep <prompt> [--confirm] [--max-jobs N]
                                run every permutation ({a, b}) as a sweep
%mj plan <prompt>               how many jobs a sweep would run (sends nothing)
%mj wait [seconds]              block until every task of this kernel has ended
%mj log [N] [--status S] [--provider P] [--sweep ID] [--since WHEN]
                                the task log as a DataFrame (newest N rows)
%mj describe <url>              four prompts for an image
%mj blend <url> <url> ... [--dimensions square|portrait|landscape]
%mj providers                   providers, their variables and whether they are set
%mj panel                       the prompt panel
%mj help                        this text and the prompt parameters
%%mj                            one prompt per line, submitted together
%config MJMagic                 settings (provider, max_concurrency, thumbnail_size ...)
"""


class TaskBatch(list["Task"]):
    """The tasks a ``%%mj`` cell started, in line order (a plain list otherwise)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _prompt_error(exc: PromptError, where: str = "") -> UsageError:
    message = _one_line(str(exc))
    if exc.column is not None and "column" not in message:
        message = f"{message} (at column {exc.column})"
    return UsageError(f"{where}{message}")


@magics_class
class MJMagic(Magics, Configurable):
    """``%mj`` and ``%%mj``: Midjourney from a notebook. See ``%mj help``."""

    provider = CaselessStrEnum(
        config.PROVIDER_NAMES,
        default_value="local",
        help="Provider for new tasks: " + ", ".join(config.PROVIDER_NAMES) + ". "
        "Starts as MJNB_PROVIDER, else 'local' (the built-in simulator, no key needed).",
    ).tag(config=True)
    base_url = Unicode(
        None,
        allow_none=True,
        help="Base URL of the provider's API, to use a reseller, your own server or a "
        "simulator (MJNB_BASE_URL). None: the provider's own address.",
    ).tag(config=True)
    max_concurrency = Int(
        3, min=1, help="Jobs running at once per provider; more wait in a local queue."
    ).tag(config=True)
    poll_interval = Float(
        None,
        allow_none=True,
        min=0.0,
        help="Seconds between status polls. None: the provider's own default "
        "(never below what the real service allows).",
    ).tag(config=True)
    max_jobs = Int(
        40,
        min=1,
        help="Sweeps with more jobs than this need `%mj sweep --confirm ...` (Midjourney's "
        "own cap is 40).",
    ).tag(config=True)
    thumbnail_size = Int(
        256,
        min=32,
        max=2048,
        help="Longest side, in pixels, of the JPEG thumbnails cards show and leave in the "
        "saved notebook (full-size images stay on disk, see task.image_path).",
    ).tag(config=True)
    sim_latency = Float(
        2.0,
        min=0.0,
        help="Seconds a job takes on the built-in simulator (provider 'local').",
    ).tag(config=True)
    updates_per_second = Float(
        4.0,
        min=0.1,
        max=30.0,
        help="Most widget updates per second per card while a task runs "
        "(the final state is always shown at once).",
    ).tag(config=True)
    jpeg_quality = Int(70, min=20, max=95, help="JPEG quality of card thumbnails (20-95).").tag(
        config=True
    )
    static_outputs = Bool(
        True,
        help="Replace each finished card's output with a summary line and a thumbnail, so "
        "the saved notebook shows results where no kernel runs (GitHub, nbviewer).",
    ).tag(config=True)

    compact_images = Bool(
        True,
        help="Show PIL images (task.image, sweep.grid(), ...) as one JPEG of at most "
        f"{COMPACT_SIDE} px instead of a full-size PNG, so saved notebooks stay small.",
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell) -> None:
        self._syncing = True
        self._configured: set[str] = set()
        Configurable.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        given = set(shell.config.get("MJMagic", {}))
        try:
            current = config.settings()
        except MJError:  # a bad MJNB_* value: say so when a task is started, not here
            current = config.Settings()
        for name in SETTINGS:  # show the settings in force (environment included)
            if name not in given:
                setattr(self, name, getattr(current, name))
        for name in given & set(SETTINGS):  # profile config counts like %config
            self._configure(name, getattr(self, name))
        self._syncing = False
        self._clients: dict[tuple[Any, ...], Client] = {}
        self._last: Task | None = None
        self._cards: list[TaskCard] = []  # displayed, final state not yet published
        self._views: list[SweepView] = []
        self._shown: set[int] = set()  # objects this cell's magic already displayed

    # -- settings ------------------------------------------------------------------------
    @observe("compact_images")
    def _compact_changed(self, change: dict[str, Any]) -> None:
        _compact_pil_images(self.shell, change["new"])

    @observe(*SETTINGS)
    def _setting_changed(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._configure(change["name"], change["new"])

    def _configure(self, name: str, value: Any) -> None:
        config.configure(**{name: value})
        self._configured.add(name)

    def forget_settings(self) -> None:
        """Undo every ``mjnb.configure`` this magic made (on unload)."""
        config.configure(**dict.fromkeys(self._configured))
        self._configured.clear()

    @property
    def client(self) -> Client:
        """The client for the settings in force now (one per provider endpoint)."""
        from ..client import Client

        settings = config.settings()
        key = (
            settings.provider,
            settings.base_url,
            settings.home,
            settings.max_concurrency,
            settings.poll_interval,
            settings.stall_timeout,
            settings.sim_latency,
        )
        if key not in self._clients:
            self._clients[key] = Client()
        return self._clients[key]

    @property
    def clients(self) -> list[Client]:
        return list(self._clients.values())

    @property
    def last(self) -> Task | None:
        """The task ``%mj U2`` acts on: the last one started here (or by a card button)."""
        return self._last

    def _remember(self, task: Task) -> None:
        self._last = task

    @property
    def in_kernel(self) -> bool:
        return getattr(self.shell, "kernel", None) is not None

    # -- the magic -----------------------------------------------------------------------
    @no_var_expand  # {a, b} are permutations, not Python expressions
    @line_cell_magic
    def mj(self, line: str, cell: str | None = None) -> Any:
        """Midjourney from a notebook: ``%mj <prompt>``, ``%mj U2``, ``%mj wait`` ...

        See ``%mj help`` for every form.
        """
        try:
            if cell is not None:
                return self._cell(line, cell)
            return self._line(line)
        except UsageError:
            raise
        except PromptError as exc:
            raise _prompt_error(exc) from None
        except MJError as exc:
            raise UsageError(_one_line(str(exc))) from None

    def _line(self, line: str) -> Any:
        text = line.strip()
        if not text:
            raise UsageError("Nothing to do: write %mj <prompt>, or see %mj help.")
        word, _, rest = text.partition(" ")
        command = self._commands().get(word.lower())
        if command is not None:
            return command(rest.strip())
        action = _parse_action(text)
        if action is not None:
            return self._act(*action, text=text)
        return self._imagine(text)

    def _commands(self) -> dict[str, Callable[[str], Any]]:
        return {
            "imagine": self._imagine,
            "sweep": self._sweep_command,
            "plan": self._plan,
            "wait": self._wait,
            "log": self._log,
            "describe": self._describe,
            "blend": self._blend,
            "providers": self._providers,
            "panel": self._panel,
            "help": self._help,
        }

    # -- imagine, act, sweep --------------------------------------------------------------
    def _imagine(self, text: str) -> Task | Sweep:
        from ..prompt import parse_prompt

        if not text:
            raise UsageError("Write the prompt after %mj imagine, e.g. %mj imagine a red fox.")
        prompt = parse_prompt(text)
        variants = prompt.expand()
        if len(variants) > 1:
            return self._start_sweep(text, confirm=False, max_jobs=self.max_jobs)
        task = self.client.imagine(variants[0])
        return self._show_task(task)

    def _act(self, label: str, task_id: str | None, *, text: str) -> Task:
        if task_id is None:
            parent = self._last
            if parent is None:
                raise UsageError(
                    f"There is no task to {label} yet: run %mj <prompt> first, or name one "
                    f"with %mj {label} <task_id>."
                )
        else:
            parent = self._find(task_id, text=text)
        if not parent.done:
            raise UsageError(
                f"Task {parent.id} is still {parent.status} ({parent.progress}%); "
                f"run %mj wait, then %mj {label} again."
            )
        return self._show_task(parent.act(label))

    def _find(self, task_id: str, *, text: str) -> Task:
        for client in reversed(self.clients):
            matches = [t for t in client.tasks if t.id.startswith(task_id)]
            if len(matches) == 1:
                return matches[0]
        try:
            return self.client.task(task_id)
        except MJError as exc:
            raise UsageError(
                f"{_one_line(str(exc))} (To imagine {text!r} as a prompt, write "
                f"%mj imagine {text}.)"
            ) from None

    def _sweep_command(self, rest: str) -> Sweep:
        confirm = bool(_CONFIRM.search(rest))
        text = _CONFIRM.sub(" ", rest)
        max_jobs = self.max_jobs
        found = _MAX_JOBS.search(text)
        if found:
            if not found.group(1).isdigit() or int(found.group(1)) < 1:
                raise UsageError(
                    f"--max-jobs takes a whole number of jobs, got {found.group(1)!r}."
                )
            max_jobs = int(found.group(1))
            text = _MAX_JOBS.sub(" ", text)
        text = _one_line(text)
        if not text:
            raise UsageError("Write the prompt after %mj sweep, e.g. %mj sweep a fox --s {0, 500}.")
        return self._start_sweep(text, confirm=confirm, max_jobs=max_jobs)

    def _plan(self, rest: str) -> Any:
        if not rest:
            raise UsageError("Write the prompt after %mj plan, e.g. %mj plan a fox --s {0, 500}.")
        return self.client.plan_sweep(rest)

    def _start_sweep(self, text: str, *, confirm: bool, max_jobs: int) -> Sweep:
        from .sweepview import SweepView

        client = self.client
        plan = client.plan_sweep(text)
        if plan.jobs > max_jobs and not confirm:
            raise UsageError(
                f"This sweep is {plan}: more than max_jobs={max_jobs}, so nothing was sent. "
                f"Run it with %mj sweep --confirm {text}, or use fewer values."
            )
        sweep = client.sweep(text, confirm=True, max_jobs=max_jobs)
        view = SweepView(
            sweep,
            cell_size=max(64, self.thumbnail_size // 2),
            quality=self.jpeg_quality,
        )
        view.show(live_static=self.in_kernel and self.static_outputs)
        self._views.append(view)
        self._shown.add(id(sweep))
        return sweep

    def _card(self, task: Task) -> TaskCard:
        from .card import TaskCard

        return TaskCard(
            task,
            thumbnail_size=self.thumbnail_size,
            updates_per_second=self.updates_per_second,
            quality=self.jpeg_quality,
            on_child=self._remember,
        )

    def _show_task(self, task: Task) -> Task:
        self._last = task
        card = self._card(task)
        card.show(live_static=self.in_kernel and self.static_outputs)
        self._cards.append(card)
        self._shown.add(id(task))
        return task

    # -- %%mj -----------------------------------------------------------------------------
    def _cell(self, line: str, cell: str) -> TaskBatch:
        from ..prompt import parse_prompt

        if line.strip():
            raise UsageError(
                f"%%mj takes no options (got {line.strip()!r}); put one prompt per line "
                "in the cell."
            )
        prompts: list[Prompt] = []
        for number, raw in enumerate(cell.splitlines(), start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            try:
                prompt = parse_prompt(text)
            except PromptError as exc:
                raise _prompt_error(exc, f"Line {number}: ") from None
            variants = prompt.expand()
            if len(variants) > 1:
                raise UsageError(
                    f"Line {number} has permutations ({len(variants)} jobs); run it on its "
                    "own as %mj <prompt> to make it a sweep. Nothing was sent."
                )
            prompts.append(variants[0])
        if not prompts:
            raise UsageError("This %%mj cell has no prompt: write one prompt per line.")
        client = self.client  # a missing credential fails here, before anything is sent
        batch = TaskBatch(client.imagine(prompt) for prompt in prompts)
        for task in batch:
            self._show_task(task)
        self._shown.add(id(batch))
        return batch

    # -- wait, log and the rest -----------------------------------------------------------
    def _wait(self, rest: str) -> None:
        timeout = _seconds(rest) if rest else None
        from ..client import all_tasks

        tasks = [task for client in self.clients for task in client.tasks]
        mine = {task.id for task in tasks}
        # and whatever other clients of this kernel (mjnb.Client() in a cell) still run
        tasks += [task for task in all_tasks() if not task.done and task.id not in mine]
        try:
            _wait_all(tasks, timeout)
        finally:
            self.publish()
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        noun = "task has" if len(tasks) == 1 else "tasks have"
        print(f"All {len(tasks)} {noun} ended" + (f": {detail}." if detail else "."))

    def _log(self, rest: str) -> pd.DataFrame:
        options = _options(rest, ("status", "provider", "sweep", "since"), command="log")
        limit = None
        if options.positional:
            value = options.positional[0]
            if len(options.positional) > 1 or not value.isdigit():
                raise UsageError(
                    f"%mj log takes a number of rows, got {' '.join(options.positional)!r} "
                    "(e.g. %mj log 20 --status failed)."
                )
            limit = int(value)
        return self.client.log(limit=limit, **options.named)

    def _describe(self, rest: str) -> Task:
        urls = rest.split()
        if len(urls) != 1:
            raise UsageError(
                "Write one image URL after %mj describe, e.g. %mj describe https://..."
            )
        return self._show_task(self.client.describe(urls[0]))

    def _blend(self, rest: str) -> Task:
        options = _options(rest, ("dimensions",), command="blend")
        return self._show_task(
            self.client.blend(
                options.positional, dimensions=options.named.get("dimensions", "square")
            )
        )

    def _providers(self, rest: str) -> pd.DataFrame:
        if rest:
            raise UsageError(f"%mj providers takes nothing after it, got {rest!r}.")
        return providers_table()

    def _panel(self, rest: str) -> Any:
        try:
            from .panel import Panel  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise UsageError(
                "The panel is not part of this version of mjnb yet; use %mj <prompt> and "
                "the cards' buttons meanwhile."
            ) from None
        from IPython.display import display

        parameters = inspect.signature(Panel).parameters
        panel = Panel(client=self.client) if "client" in parameters else Panel()
        display(panel)
        return None

    def _help(self, rest: str) -> None:
        from ..prompt import PARAMETERS

        lines = [USAGE, "Prompt parameters (--name value; aliases in brackets):"]
        for name, spec in PARAMETERS.items():
            aliases = [a for a in spec.aliases if a != name]
            alias = f" [--{', --'.join(aliases)}]" if aliases else ""
            lines.append(f"  --{name}{alias}: {spec.help} ({spec.range})")
        print("\n".join(lines))

    # -- display ---------------------------------------------------------------------------
    def publish(self) -> None:
        """Replace each finished card's and view's output with its final state (main thread)."""
        self._cards = self._publish_finished(self._cards)
        self._views = self._publish_finished(self._views)

    def _publish_finished(self, views: list[View]) -> list[View]:
        """Publish the finished ``views``; answer the others (still to publish)."""
        still = []
        for view in views:
            if not view.finished:
                still.append(view)
            elif self.static_outputs:
                view.publish_static()
            else:
                view.flush()
        return still

    def _pre_run_cell(self, *args: Any) -> None:
        self._shown.clear()

    def _post_run_cell(self, *args: Any) -> None:
        self._shown.clear()
        self.publish()

    def _display_task(self, task: Task) -> None:
        """How a Task shows as a cell's value or in ``display(task)``: as a live card."""
        if id(task) in self._shown:  # the magic that returned it has shown it already
            self._shown.discard(id(task))
            return
        card = self._card(task)
        card.show(live_static=self.in_kernel and self.static_outputs)
        self._cards.append(card)

    def _display_batch(self, batch: TaskBatch) -> None:
        if id(batch) in self._shown:
            self._shown.discard(id(batch))
            return
        for task in batch:
            self._display_task(task)

    def _display_sweep(self, sweep: Sweep) -> None:
        from .sweepview import SweepView

        if id(sweep) in self._shown:
            self._shown.discard(id(sweep))
            return
        view = SweepView(sweep, cell_size=max(64, self.thumbnail_size // 2))
        view.show(live_static=self.in_kernel and self.static_outputs)
        self._views.append(view)


# ------------------------------------------------------------------------ line parsing


def _parse_action(text: str) -> tuple[str, str | None] | None:
    """``"U2"`` -> ("U2", None); ``"zoom 2x 3f2a"`` -> ("zoom 2x", "3f2a"); a prompt -> None.

    A line is an action when its first word is an action word and it has at most three
    words and no ``--`` parameter. Raises UsageError for an unknown action.
    """
    from ..client import normalize_label

    words = text.split()
    first = words[0].lower()
    if first not in _ACTION_WORDS and not _UV.match(first):
        return None
    if len(words) > 3 or any(w.startswith(("--", "—")) for w in words):
        return None
    for size in (2, 1):
        if len(words) - size in (0, 1) and size <= len(words):
            try:
                label = normalize_label(" ".join(words[:size]))
            except MJError:
                continue
            return label, (words[size] if len(words) > size else None)
    guess = " ".join(words[:2]) if first in _ACTION_WORDS - {"reroll", "square"} else words[0]
    try:
        normalize_label(guess)
    except MJError as exc:
        raise UsageError(
            f"{_one_line(str(exc))} To imagine {text!r} as a prompt, write %mj imagine {text}."
        ) from None
    raise UsageError(f"Cannot read {text!r}: write %mj <action> [task_id], e.g. %mj U2.")


class _Options:
    def __init__(self) -> None:
        self.positional: list[str] = []
        self.named: dict[str, str] = {}


def _options(rest: str, names: Sequence[str], *, command: str) -> _Options:
    """``--name value`` pairs (only ``names``) and the other words, for %mj subcommands."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"%mj {command}: {exc}.") from None
    result = _Options()
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            if name not in names:
                known = ", ".join(f"--{n}" for n in names)
                raise UsageError(f"%mj {command} has no option --{name}; it takes {known}.")
            if not value:
                index += 1
                if index >= len(words):
                    raise UsageError(f"%mj {command}: --{name} needs a value.")
                value = words[index]
            result.named[name] = value
        else:
            result.positional.append(word)
        index += 1
    return result


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"%mj wait takes a number of seconds, got {text!r} (e.g. %mj wait 60).")
    return value


def _wait_all(tasks: Iterable[Task], timeout: float | None) -> None:
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    for task in tasks:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            task.wait(left)
        except Timeout:
            pending = sum(1 for t in tasks if not t.done)
            raise UsageError(
                f"{pending} task(s) still running after {timeout:g} s; they keep running. "
                "Run %mj wait again to keep waiting."
            ) from None


def providers_table() -> pd.DataFrame:
    """Every provider: whether its credentials are set (never their values), the
    environment variables it reads and the base URL it would use."""
    import pandas as pd

    from ..providers import PROVIDERS

    settings = config.settings()
    rows = []
    for name in config.PROVIDER_NAMES:
        variables = dict(config.CREDENTIAL_VARS[name])
        missing = [
            var
            for argument, var in variables.items()
            if argument in config.REQUIRED[name] and not os.environ.get(var)
        ]
        url = config.base_url_for(name, replace(settings, provider=name))
        default = getattr(PROVIDERS.get(name), "default_base_url", None)
        url_var = config.BASE_URL_VARS.get(name)
        if url_var:
            variables["base_url"] = url_var
            if url is None and not default:
                missing.append(url_var)  # a self-hosted server has no address of its own
        if missing:
            credentials = "missing " + ", ".join(missing)
        elif config.CREDENTIAL_VARS[name]:
            credentials = "set"
        else:
            credentials = "none needed"
        if url is None:
            url = default or ("embedded simulator" if name == "local" else "")
        rows.append(
            {
                "provider": name,
                "service": config.TITLES.get(name, name),
                "current": name == settings.provider,
                "credentials": credentials,
                "variables": ", ".join(variables.values()),
                "base_url": url,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- extension


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext mjnb``: register ``%mj``, ``%%mj`` and ``%config MJMagic``."""
    if getattr(ipython, "_mjnb_magic", None) is not None:
        return
    magic = MJMagic(ipython)
    ipython.register_magics(magic)
    configurables: list[Any] = ipython.configurables
    if magic not in configurables:  # recent IPythons append every Magics themselves
        configurables.append(magic)
    ipython.events.register("pre_run_cell", magic._pre_run_cell)
    ipython.events.register("post_run_cell", magic._post_run_cell)
    assert ipython.display_formatter is not None
    printers = ipython.display_formatter.ipython_display_formatter
    printers.for_type_by_name("mjnb.task", "Task", magic._display_task)
    printers.for_type_by_name("mjnb.sweep.run", "Sweep", magic._display_sweep)
    printers.for_type(TaskBatch, magic._display_batch)
    _compact_pil_images(ipython, magic.compact_images)
    ipython._mjnb_magic = magic  # type: ignore[attr-defined]


def _jpeg(image: Any) -> bytes:
    from ..images import encode, fit_thumbnail

    return encode(fit_thumbnail(image, COMPACT_SIDE), "JPEG", quality=85)


def _compact_pil_images(ipython: InteractiveShell | None, on: bool) -> None:
    """Show PIL images as a fitted JPEG and no PNG (``on``), or as IPython does."""
    if ipython is None or ipython.display_formatter is None:
        return
    formatters = ipython.display_formatter.formatters
    for mime, show in (("image/png", lambda image: None), ("image/jpeg", _jpeg)):
        if on:
            formatters[mime].for_type_by_name("PIL.Image", "Image", show)
        else:
            formatters[mime].pop("PIL.Image.Image", None)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Undo :func:`load_ipython_extension` (and forget the settings set with %config)."""
    magic: MJMagic | None = getattr(ipython, "_mjnb_magic", None)
    if magic is None:
        return
    ipython.events.unregister("pre_run_cell", magic._pre_run_cell)
    ipython.events.unregister("post_run_cell", magic._post_run_cell)
    assert ipython.display_formatter is not None
    printers = ipython.display_formatter.ipython_display_formatter
    for name in ("mjnb.task.Task", "mjnb.sweep.run.Sweep"):
        printers.pop(name, None)
    printers.pop(TaskBatch, None)
    _compact_pil_images(ipython, False)
    configurables: list[Any] = ipython.configurables
    while magic in configurables:
        configurables.remove(magic)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("mj", None)
    ipython.magics_manager.registry.pop("MJMagic", None)
    magic.forget_settings()
    ipython._mjnb_magic = None  # type: ignore[attr-defined]
