"""Budgets: a job cap per user per day and per account per day, held in the log.

Caps come from two places and the stricter one wins, so neither a student's environment
nor a stale setting can loosen the other: ``MJNB_BUDGET_USER_DAY`` /
``MJNB_BUDGET_ACCOUNT_DAY``, and settings stored in the log's ``budgets`` table by
whoever administers it (``mjnb budget set --user-day 20``, ``mj.set_budget(...)``). A
stored setting names an account (provider + base URL) or ``*`` for every account; a
user cap may also name one user (``scope`` ``user:alice``), which beats the default.

Every job spends one unit just before it is sent, in one serialised transaction that
checks both caps and adds to ``budget_spend``: two kernels racing for the last unit of a
budget cannot both win. Days are UTC dates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .errors import BudgetExceeded, InvalidArgument
from .log.codec import now_us
from .log.shared import SharedDB, Tx

if TYPE_CHECKING:
    import pandas

__all__ = ["ANY_ACCOUNT", "Budget", "BudgetState", "budget_command", "today"]

ENV_USER_DAY = "MJNB_BUDGET_USER_DAY"
ENV_ACCOUNT_DAY = "MJNB_BUDGET_ACCOUNT_DAY"
ANY_ACCOUNT = "*"


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def _env_cap(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a whole number of jobs, got {text!r}.") from None
    if value < 0:
        raise InvalidArgument(f"{name} must be 0 or more, got {value}.")
    return value


def _stricter(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class BudgetState:
    """What is spent and left today for one user on one account (None: no cap)."""

    user: str
    account: str
    day: str
    user_spent: int
    account_spent: int
    user_cap: int | None
    account_cap: int | None

    @property
    def user_left(self) -> int | None:
        return None if self.user_cap is None else max(0, self.user_cap - self.user_spent)

    @property
    def account_left(self) -> int | None:
        if self.account_cap is None:
            return None
        return max(0, self.account_cap - self.account_spent)

    @property
    def capped(self) -> bool:
        return self.user_cap is not None or self.account_cap is not None

    def refusal(self, jobs: int) -> str | None:
        """Why ``jobs`` more jobs would break a cap (one line), or None."""
        if self.user_left is not None and jobs > self.user_left:
            return (
                f"Budget: {jobs} job(s) would exceed {self.user}'s daily cap of "
                f"{self.user_cap} ({self.user_left} left today); nothing was sent."
            )
        if self.account_left is not None and jobs > self.account_left:
            return (
                f"Budget: {jobs} job(s) would exceed the account's daily cap of "
                f"{self.account_cap} ({self.account_left} left today); nothing was sent."
            )
        return None

    def note(self, jobs: int) -> str:
        """One line: what ``jobs`` jobs would leave of the budget."""
        parts = []
        if self.user_left is not None:
            parts.append(f"{self.user}: {self.user_left - jobs} of {self.user_cap} left")
        if self.account_left is not None:
            parts.append(f"account: {self.account_left - jobs} of {self.account_cap} left")
        text = "; ".join(parts) if parts else "no cap set"
        return f"Budget today ({self.day}): {jobs} job(s) would leave {text}."


class Budget:
    """The daily caps of one account as one user spends them."""

    def __init__(self, db: SharedDB, account: str, user: str | None) -> None:
        self.db = db
        self.account = account
        self.user = user or "?"

    def __repr__(self) -> str:
        return f"<Budget {self.account!r} user={self.user!r}>"

    # -- settings -------------------------------------------------------------------------
    def set(
        self,
        *,
        user_day: int | None = None,
        account_day: int | None = None,
        user: str | None = None,
        account: str | None = None,
        clear: bool = False,
    ) -> None:
        """Store caps in the log (``account="*"``: every account; ``user``: that user's
        own cap instead of the default per-user one). ``clear`` removes the named caps."""
        target = account or self.account
        changes: list[tuple[str, int | None]] = []
        if user_day is not None or clear:
            changes.append((f"user:{user}" if user else "user", user_day))
        if account_day is not None or (clear and not user):
            changes.append(("account", account_day))
        if not changes:
            raise InvalidArgument("Give user_day=, account_day= (jobs per day) or clear=True.")
        with self.db.transaction(lock=f"budget {target}") as tx:
            for scope, cap in changes:
                tx.execute(
                    "DELETE FROM budgets WHERE account = :a AND scope = :s",
                    {"a": target, "s": scope},
                )
                if cap is None or clear:
                    continue
                if int(cap) < 0:
                    raise InvalidArgument(f"A daily cap must be 0 or more, got {cap}.")
                tx.execute(
                    "INSERT INTO budgets (account, scope, cap, set_by, set_at)"
                    " VALUES (:a, :s, :c, :b, :t)",
                    {"a": target, "s": scope, "c": int(cap), "b": self.user, "t": now_us()},
                )

    def _caps(self, tx: Tx) -> tuple[int | None, int | None]:
        rows = tx.execute(
            "SELECT account, scope, cap FROM budgets WHERE account IN (:a, :any)",
            {"a": self.account, "any": ANY_ACCOUNT},
        )
        # a setting for this account beats one for every account
        found: dict[str, int] = {}
        for _account, scope, cap in sorted(rows, key=lambda r: r[0] != ANY_ACCOUNT):
            found[scope] = int(cap)
        user_cap = found.get(f"user:{self.user}", found.get("user"))
        return (
            _stricter(user_cap, _env_cap(ENV_USER_DAY)),
            _stricter(found.get("account"), _env_cap(ENV_ACCOUNT_DAY)),
        )

    def _state(self, tx: Tx, day: str) -> BudgetState:
        user_cap, account_cap = self._caps(tx)
        user_spent = tx.one(
            "SELECT jobs FROM budget_spend WHERE account = :a AND user_name = :u AND day = :d",
            {"a": self.account, "u": self.user, "d": day},
        )
        account_spent = tx.one(
            "SELECT sum(jobs) FROM budget_spend WHERE account = :a AND day = :d",
            {"a": self.account, "d": day},
        )
        return BudgetState(
            self.user,
            self.account,
            day,
            int(user_spent or 0),
            int(account_spent or 0),
            user_cap,
            account_cap,
        )

    # -- reading and spending ---------------------------------------------------------------
    def state(self) -> BudgetState:
        """Today's spend and caps (a read; sends nothing)."""
        with self.db.transaction() as tx:
            return self._state(tx, today())

    def check(self, jobs: int) -> BudgetState:
        """Raise :class:`BudgetExceeded` (one line) if ``jobs`` jobs would break a cap."""
        state = self.state()
        reason = state.refusal(jobs)
        if reason:
            raise BudgetExceeded(reason)
        return state

    def spend(self, jobs: int = 1) -> BudgetState:
        """Spend ``jobs`` units atomically, or raise :class:`BudgetExceeded` spending
        nothing. Returns the state after the spend."""
        day = today()
        with self.db.transaction(lock=self.account) as tx:
            state = self._state(tx, day)
            reason = state.refusal(jobs)
            if reason:
                raise BudgetExceeded(reason)
            params = {"a": self.account, "u": self.user, "d": day, "n": jobs}
            if state.user_spent:
                tx.execute(
                    "UPDATE budget_spend SET jobs = jobs + :n WHERE account = :a"
                    " AND user_name = :u AND day = :d",
                    params,
                )
            else:
                tx.execute(
                    "INSERT INTO budget_spend (account, user_name, day, jobs)"
                    " VALUES (:a, :u, :d, :n)",
                    params,
                )
        return BudgetState(
            self.user,
            self.account,
            day,
            state.user_spent + jobs,
            state.account_spent + jobs,
            state.user_cap,
            state.account_cap,
        )

    def spend_frame(
        self, *, days: int | None = None, every_account: bool = False
    ) -> pandas.DataFrame:
        """Jobs spent per user per day (newest day first), with the caps that apply."""
        import pandas as pd

        sql = "SELECT day, user_name, account, jobs FROM budget_spend"
        params: dict[str, Any] = {}
        if not every_account:
            sql += " WHERE account = :a"
            params["a"] = self.account
        with self.db.transaction() as tx:
            rows = tx.execute(sql + " ORDER BY day DESC, user_name", params)
            user_cap, account_cap = self._caps(tx)
        frame = pd.DataFrame(rows, columns=["day", "user", "account", "jobs"])
        if days is not None and not frame.empty:
            keep = sorted(set(frame["day"]), reverse=True)[:days]
            frame = frame[frame["day"].isin(keep)].reset_index(drop=True)
        frame["jobs"] = frame["jobs"].astype("int64")
        frame["user_cap"] = pd.array([user_cap] * len(frame), dtype="Int64")
        frame["account_cap"] = pd.array([account_cap] * len(frame), dtype="Int64")
        return frame


def budget_command(args: Any) -> int:
    """``mjnb budget [show|set|clear]``: the caps in the log of ``$MJNB_HOME``, and spend."""
    from .config import base_url_for, settings
    from .log import TaskLog
    from .log.codec import user_name
    from .log.shared import account_key
    from .providers import PROVIDERS

    current = settings(provider=args.provider, base_url=args.base_url)
    cls = PROVIDERS.get(current.provider)
    base = base_url_for(current.provider, current) or getattr(cls, "default_base_url", "")
    account = ANY_ACCOUNT if args.every_account else account_key(current.provider, base)
    with TaskLog(current.log_url, home=current.home) as log:
        budget = Budget(SharedDB.for_log(log), account, user_name())
        if args.action in ("set", "clear"):
            budget.set(
                user_day=args.user_day,
                account_day=args.account_day,
                user=args.user,
                clear=args.action == "clear",
            )
        where = "every account" if account == ANY_ACCOUNT else account
        if account != ANY_ACCOUNT:
            state = budget.state()
            print(
                f"Caps for {where}: per user {_cap(state.user_cap)}, "
                f"account {_cap(state.account_cap)} jobs a day."
            )
            frame = budget.spend_frame(days=args.days)
        else:
            print(f"Caps stored for {where}.")
            frame = budget.spend_frame(days=args.days, every_account=True)
        print(frame.to_string(index=False) if len(frame) else "No jobs spent yet.")
    return 0


def _cap(cap: int | None) -> str:
    return "no cap" if cap is None else str(cap)
