"""Each claim checked against the sentences it cites: `Claim.support`.

    signals   what differs between a claim and its evidence (words, numbers, names, negation,
              and embedding similarity), each a number
    checker   the offline checker: signals weighed by weights fitted on human labels
    judge     the backend's model as judge, claims batched several per call

Methods (`--check-claims`, `Settings.check_claims`):

* `lexical` (the default): the word signals alone; cheap, no model, no download.
* `combined`: the word signals plus the offline MiniLM embedder's similarity.
* `judge`: the backend's model reads each claim beside its evidence (capable models only; the
  call layer caches the calls). Claims it leaves undecided are checked `lexical`, with a warning.
* `off`: every claim `unchecked`.

Whatever the method, a claim whose text is its evidence (the extractive tier) is `verbatim`:
supported by construction, not by a check. `--min-support X` then drops claims scored below X,
counted in the result's warnings; unchecked claims are never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from summarizer.config import CHECKER_VERSION, CheckMethod
from summarizer.llm.embedder import Embedder
from summarizer.schemas import UNCHECKED, Claim, Support
from summarizer.support.checker import VERBATIM, check_offline, is_verbatim
from summarizer.support.judge import AskJudge, judge_claims

CHECK_METHODS: tuple[CheckMethod, ...] = ("off", "lexical", "combined", "judge")


def check_support(
    pairs: Sequence[tuple[str, str]],
    method: CheckMethod,
    *,
    embedder: Callable[[], Embedder] | None = None,
    ask: AskJudge | None = None,
) -> tuple[list[Support], list[str]]:
    """One `Support` per (claim, evidence) pair, and the warnings worth reporting.

    `embedder` (for "combined") and `ask` (for "judge") are called only when some claim is
    not verbatim, so an extractive run never loads the embedder or calls the model.
    """
    supports: list[Support] = [VERBATIM if is_verbatim(c, e) else UNCHECKED for c, e in pairs]
    todo = [k for k, (c, e) in enumerate(pairs) if not is_verbatim(c, e)]
    if method == "off" or not todo:
        return supports, []
    chosen = [pairs[k] for k in todo]
    warnings: list[str] = []
    if method == "judge":
        if ask is None:
            raise ValueError("the judge method needs `ask`")
        judged = judge_claims(chosen, ask)
        undecided = [k for k, verdict in enumerate(judged) if verdict is None]
        if undecided:
            warnings.append(
                f"the model judged {len(judged) - len(undecided)} of {len(judged)} claim(s); "
                f"{len(undecided)} checked lexically instead"
            )
            fallback = iter(check_offline([chosen[k] for k in undecided]))
            judged = [verdict or next(fallback) for verdict in judged]
        checked: list[Support] = [v for v in judged if v is not None]
    elif method == "combined":
        if embedder is None:
            raise ValueError("the combined method needs an embedder")
        checked = check_offline(chosen, embedder())
    else:
        checked = check_offline(chosen)
    for k, support in zip(todo, checked, strict=True):
        supports[k] = support
    return supports, warnings


def with_support(
    claims: Sequence[Claim], supports: Sequence[Support], min_support: float | None
) -> tuple[list[Claim], list[str]]:
    """The claims with their support, less those scored below `min_support` (with a warning)."""
    kept: list[Claim] = []
    dropped: list[str] = []
    for claim, support in zip(claims, supports, strict=True):
        if min_support is not None and support.score is not None and support.score < min_support:
            dropped.append(claim.id)
        else:
            kept.append(claim.model_copy(update={"support": support}))
    warnings = []
    if dropped:
        warnings.append(
            f"dropped {len(dropped)} claim(s) with support below {min_support}: "
            + ", ".join(dropped)
        )
    return kept, warnings


__all__ = [
    "CHECKER_VERSION",
    "CHECK_METHODS",
    "AskJudge",
    "CheckMethod",
    "check_support",
    "with_support",
]
