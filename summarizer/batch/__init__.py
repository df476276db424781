"""Batch jobs: many articles, one output directory, safe to kill and rerun.

    inputs.discover(INPUTS)       files, directories, JSONL  ->  items with stable ids
    runner.run_batch(...)         lock DIR, triage against the ledger, summarise concurrently
      triage.triage               what to do with each item (pure; shared with the dry run)
      lock.exclusive_lock         one run per output directory (flock on DIR/.lock)
      ledger.Ledger               DIR/ledger.sqlite: the record of what is done
      layout.output_path          DIR/items/<id>.json, where an item's result lives
      throttle.ThrottledBackend   wraps the model backend: rate limits, cancellation, counts
      ratelimit.RateLimiter       requests and tokens per minute, spaced, thread-safe
      cancel.CancelToken          how a timed-out item's thread is told to stop
      events.ItemEvent            one per item, for progress bars and JSON-lines logs
      report                      DIR/results.jsonl (rebuilt from the ledger) and report.json
    plan.plan_batch(...)          --dry-run: calls, tokens and cost, without calling a model

An output directory holds `items/<id>.json` (one SummaryResult per item), `results.jsonl`,
`report.json`, `ledger.sqlite` and `.lock`. See docs/batch.md for the semantics.
"""

from __future__ import annotations

from summarizer.batch.inputs import BatchItem, Discovery, InputProblem, discover, item_id
from summarizer.batch.lock import BatchLocked
from summarizer.batch.plan import BatchPlan, plan_batch
from summarizer.batch.report import BatchReport
from summarizer.batch.runner import BatchOptions, run_batch

__all__ = [
    "BatchItem",
    "BatchLocked",
    "BatchOptions",
    "BatchPlan",
    "BatchReport",
    "Discovery",
    "InputProblem",
    "discover",
    "item_id",
    "plan_batch",
    "run_batch",
]
