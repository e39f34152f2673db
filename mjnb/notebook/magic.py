"""The ``%mj`` magic: one line in a notebook, one call of the Python API.

    %load_ext mjnb
    t = %mj a red fox in snow --ar 3:2 --seed 7     # a live card; returns the Task
    %mj U2                                          # act on the last task
    %mj a red fox --seed {1, 2, 3}                  # permutations: a sweep
    %mj wait                                        # until every task here has ended
    %mj cancel all                                  # stop whatever still runs

The magic reads its line (:mod:`mjnb.notebook.commands`, plain functions) and calls
:class:`mjnb.Client`; cards and sweep views are built by :mod:`mjnb.notebook.views`
with the display settings here, and only render state. Bad input never reaches a
provider: it becomes one line (``UsageError``), the way JupySQL reports errors.
Settings are traitlets, listed by ``%config MJMagic``, their ranges those of
:data:`mjnb.config.RANGES`; setting one (``%config MJMagic.provider = "mjproxy"``) calls
:func:`mjnb.configure`, so it applies to every client made afterwards.

Saved notebooks: each card is displayed with a display id, and after every cell (and
in ``%mj wait``) the cards whose task has finished replace their output with a
static summary line and a small JPEG thumbnail, which GitHub and nbviewer show.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, CaselessStrEnum, Float, Int, TraitType, Unicode, observe
from traitlets.config import Configurable

from .. import config
from ..errors import MJError, PromptError
from ..prompt import parse_prompt
from ..vocab import JPEG_QUALITY
from . import views as views_module
from .card import DEFAULT_UPDATES_PER_SECOND
from .commands import (
    USAGE,
    one_line,
    parse_action,
    parse_options,
    parse_rows,
    parse_sweep_args,
    prompt_usage_error,
    providers_table,
    split_command,
    version_table,
)
from .control_commands import ControlCommands
from .form import prompt_warnings
from .media_commands import MediaCommands
from .views import Outputs, Views, ViewSettings

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from ..client import Client
    from ..prompt import Prompt
    from ..sweep import Sweep
    from ..task import Task

__all__ = ["MJMagic", "TaskBatch", "load_ipython_extension", "unload_ipython_extension"]

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
    "strict",
    "translate",
    "log_url",
)
_DEFAULTS = config.Settings()


class TaskBatch(list["Task"]):
    """The tasks a ``%%mj`` cell started, in line order (a plain list otherwise)."""


def _ranged(kind: type[Int] | type[Float], name: str, default: Any, help: str) -> TraitType:
    """A configurable number trait whose range is :data:`mjnb.config.RANGES`' ``name``."""
    bounds = config.RANGES[name]
    low: Any = int(bounds.low) if kind is Int else bounds.low
    high: Any = None if bounds.high is None else (int(bounds.high) if kind is Int else bounds.high)
    options: dict[str, Any] = {"min": low, "max": high, "help": help}
    if default is None:
        options["allow_none"] = True
    trait: TraitType = kind(default, **options)
    return trait.tag(config=True)


@magics_class
class MJMagic(ControlCommands, MediaCommands, Magics, Configurable):
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
    log_url = Unicode(
        None,
        allow_none=True,
        help="Where the task log lives (MJNB_LOG_URL): None for $MJNB_HOME/history.sqlite, "
        "sqlite:///path, or postgresql://user:password@host/db for a log shared by a class.",
    ).tag(config=True)
    max_concurrency = _ranged(
        Int,
        "max_concurrency",
        _DEFAULTS.max_concurrency,
        "Jobs running at once per provider; more wait in a local queue.",
    )
    poll_interval = _ranged(
        Float,
        "poll_interval",
        _DEFAULTS.poll_interval,
        "Seconds between status polls. None: the provider's own default "
        "(never below what the real service allows).",
    )
    max_jobs = _ranged(
        Int,
        "max_jobs",
        _DEFAULTS.max_jobs,
        "Sweeps with more jobs than this need `%mj sweep --confirm ...` (Midjourney's "
        "own cap is 40).",
    )
    thumbnail_size = _ranged(
        Int,
        "thumbnail_size",
        _DEFAULTS.thumbnail_size,
        "Longest side, in pixels, of the JPEG thumbnails cards show and leave in the "
        "saved notebook (full-size images stay on disk, see task.image_path).",
    )
    sim_latency = _ranged(
        Float,
        "sim_latency",
        _DEFAULTS.sim_latency,
        "Seconds a job takes on the built-in simulator (provider 'local').",
    )
    strict = Bool(
        _DEFAULTS.strict,
        help="Refuse prompts with unknown --parameters before sending (False: send them "
        "with a warning, for parameters newer than this mjnb).",
    ).tag(config=True)
    translate = Bool(
        _DEFAULTS.translate,
        help="Ask providers that can (Ace's translation flag) to translate prompts written "
        "in Chinese to English before Midjourney reads them.",
    ).tag(config=True)
    updates_per_second = _ranged(
        Float,
        "updates_per_second",
        DEFAULT_UPDATES_PER_SECOND,
        "Most widget updates per second per card while a task runs "
        "(the final state is always shown at once).",
    )
    jpeg_quality = _ranged(
        Int,
        "jpeg_quality",
        JPEG_QUALITY,
        f"JPEG quality of card and sweep thumbnails ({config.RANGES['jpeg_quality']}).",
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
        #: builds every card and sweep view, with the display settings in force
        self.views = Views(self.view_settings)
        #: what this kernel displayed, published once finished
        self.outputs = Outputs(
            self.views, static=lambda: self.static_outputs, live=lambda: self.in_kernel
        )

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

    def view_settings(self) -> ViewSettings:
        """The display settings in force now (what :attr:`views` builds with)."""
        return ViewSettings(
            thumbnail_size=self.thumbnail_size,
            jpeg_quality=self.jpeg_quality,
            updates_per_second=self.updates_per_second,
        )

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
            settings.strict,
            settings.translate,
            settings.log_url,
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
            with prompt_warnings(_warning_line):  # each once, however often parsed
                if cell is not None:
                    return self._cell(line, cell)
                return self._line(line)
        except UsageError:
            raise
        except PromptError as exc:
            raise prompt_usage_error(exc) from None
        except MJError as exc:
            raise UsageError(one_line(str(exc))) from None

    def _line(self, line: str) -> Any:
        word, rest = split_command(line)
        if word is not None:
            return self._commands()[word](rest)
        action = parse_action(rest)
        if action is not None:
            return self._act(*action, text=rest)
        return self._imagine(rest)

    def _commands(self) -> dict[str, Callable[[str], Any]]:
        return {
            "imagine": self._imagine,
            "sweep": self._sweep_command,
            "plan": self._plan,
            "wait": self._wait,
            "cancel": self._cancel,
            "pending": self._pending,
            "resume": self._resume,
            "log": self._log,
            "describe": self._describe,
            "blend": self._blend,
            "animate": self._animate,
            "extend": self._extend,
            "video": self._video,
            "seed": self._seed,
            "providers": self._providers,
            "panel": self._panel,
            "gallery": self._gallery,
            "help": self._help,
        }

    # -- imagine, act, sweep --------------------------------------------------------------
    def _imagine(self, text: str) -> Task | Sweep:
        if not text:
            raise UsageError("Write the prompt after %mj imagine, e.g. %mj imagine a red fox.")
        variants = parse_prompt(text, strict=_strict()).expand()
        if len(variants) > 1:
            return self._start_sweep(text, confirm=False, max_jobs=self.max_jobs)
        task = self.client.imagine(variants[0])
        return self._show_task(task)

    def _act(self, label: str, task_id: str | None, *, text: str) -> Task | None:
        if task_id is None:
            parent = self._last
            if parent is None:
                raise UsageError(
                    f"There is no task to {label} yet: run %mj <prompt> first, or name one "
                    f"with %mj {label} <task_id>."
                )
        else:
            parent = self._find(
                task_id, hint=f"To imagine {text!r} as a prompt, write %mj imagine {text}."
            )
        if not parent.done:
            raise UsageError(
                f"Task {parent.id} is still {parent.status} ({parent.progress}%); "
                f"run %mj wait, then %mj {label} again."
            )
        if label == "vary region":
            self._vary_region(parent)  # the painter's Submit starts the task
            return None
        return self._show_task(parent.act(label))

    def _find(self, task_id: str, *, hint: str = "") -> Task:
        """The task of this kernel (or the log) whose id is or starts with ``task_id``."""
        for client in reversed(self.clients):
            matches = [t for t in client.tasks if t.id.startswith(task_id)]
            if len(matches) == 1:
                return matches[0]
        try:
            return self.client.task(task_id)
        except MJError as exc:
            message = one_line(str(exc))
            if task_id not in message:  # the line always names the id asked for
                message = f"No task {task_id!r}: {message}"
            raise UsageError(f"{message} ({hint})" if hint else message) from None

    def _sweep_command(self, rest: str) -> Sweep:
        args = parse_sweep_args(rest)
        if not args.text:
            raise UsageError("Write the prompt after %mj sweep, e.g. %mj sweep a fox --s {0, 500}.")
        max_jobs = self.max_jobs if args.max_jobs is None else args.max_jobs
        return self._start_sweep(args.text, confirm=args.confirm, max_jobs=max_jobs)

    def _plan(self, rest: str) -> Any:
        if not rest:
            raise UsageError("Write the prompt after %mj plan, e.g. %mj plan a fox --s {0, 500}.")
        return self.client.plan_sweep(rest)

    def _start_sweep(self, text: str, *, confirm: bool, max_jobs: int) -> Sweep:
        client = self.client
        plan = client.plan_sweep(text)
        if plan.jobs > max_jobs and not confirm:
            raise UsageError(
                f"This sweep is {plan}: more than max_jobs={max_jobs}, so nothing was sent. "
                f"Run it with %mj sweep --confirm {text}, or use fewer values."
            )
        sweep = client.sweep(text, confirm=True, max_jobs=max_jobs)
        self.outputs.sweep(sweep, client=client)
        self.outputs.mark(sweep)
        return sweep

    def _show_task(self, task: Task) -> Task:
        self._last = task
        self.outputs.card(task, on_child=self._remember)
        self.outputs.mark(task)
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
        strict = _strict()
        for number, raw in enumerate(cell.splitlines(), start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            try:
                prompt = parse_prompt(text, strict=strict)
            except PromptError as exc:
                raise prompt_usage_error(exc, f"Line {number}: ") from None
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
        self.outputs.mark(batch)
        return batch

    # -- log and the rest -----------------------------------------------------------------
    def _log(self, rest: str) -> pd.DataFrame:
        options = parse_options(rest, ("status", "provider", "sweep", "since"), command="log")
        return self.client.log(limit=parse_rows(options), **options.named)

    def _providers(self, rest: str) -> pd.DataFrame:
        if rest:
            raise UsageError(f"%mj providers takes nothing after it, got {rest!r}.")
        return providers_table()

    def _panel(self, rest: str) -> None:
        from IPython.display import display

        from .panel import Panel

        display(Panel(client=self.client, views=self.views))

    def _gallery(self, rest: str) -> None:
        from IPython.display import display

        from .gallery import Gallery

        display(Gallery(self.client, text=rest.strip()))

    def _help(self, rest: str) -> None:
        from ..prompt import PARAMETERS

        lines = [
            USAGE,
            version_table(),
            "",
            "Prompt parameters (--name value; aliases in brackets):",
        ]
        for name, spec in PARAMETERS.items():
            aliases = [a for a in spec.aliases if a != name]
            alias = f" [--{', --'.join(aliases)}]" if aliases else ""
            lines.append(f"  --{name}{alias}: {spec.help} ({spec.range})")
        print("\n".join(lines))

    # -- display ---------------------------------------------------------------------------
    def publish(self) -> None:
        """Replace each finished card's and view's output with its final state (main thread)."""
        self.outputs.publish()

    def _pre_run_cell(self, *args: Any) -> None:
        self.outputs.clear_marks()

    def _post_run_cell(self, *args: Any) -> None:
        self.outputs.clear_marks()
        self.publish()

    def _display_task(self, task: Task) -> None:
        """How a Task shows as a cell's value or in ``display(task)``: as a live card."""
        if not self.outputs.taken(task):  # else the magic that returned it showed it
            self.outputs.card(task, on_child=self._remember)

    def _display_batch(self, batch: TaskBatch) -> None:
        if not self.outputs.taken(batch):
            for task in batch:
                self._display_task(task)

    def _display_sweep(self, sweep: Sweep) -> None:
        if not self.outputs.taken(sweep):
            self.outputs.sweep(sweep, client=self.client)


def _strict() -> bool:
    """The strict setting in force (``%config MJMagic.strict``, ``mjnb.configure``,
    ``MJNB_STRICT``): what the client that sends will parse with."""
    return config.settings().strict


def _warning_line(note: str) -> None:
    """A PromptWarning as ``%mj`` shows it: one line on stderr, no traceback."""
    print(f"PromptWarning: {note}", file=sys.stderr)


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
    views_module.use(magic.views)  # a Panel() made in a cell builds with these settings
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
    views_module.use(None)
    ipython._mjnb_magic = None  # type: ignore[attr-defined]
