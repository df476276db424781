"""Published list prices, USD per million tokens, for cost estimates in dry runs and reports.

Estimates only: providers change prices, and batch or cached-input discounts are ignored. Local
models cost nothing per token. Unknown models give no estimate rather than a wrong one.
"""

from __future__ import annotations

# model prefix -> (input, output) USD per 1M tokens; the longest matching prefix wins.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
}


def estimate_cost(
    backend: str, model: str, prompt_tokens: int, completion_tokens: int
) -> float | None:
    if backend == "local":
        return 0.0
    name = model.rsplit("/", 1)[-1].lower()
    matches = [prefix for prefix in PRICES if name.startswith(prefix)]
    if not matches:
        return None
    price_in, price_out = PRICES[max(matches, key=len)]
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
