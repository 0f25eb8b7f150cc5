"""What the evaluation reports around its numbers: the metric names it accepts, the printed
table (the model's row beside the real-vs-real yardstick), and the small-sample warning.

Kept apart from :mod:`.evaluator` so that the computation and its presentation change
separately; :mod:`.evaluator` re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence

METRICS = ("fid", "kid", "precision", "recall", "density", "coverage", "is")
#: samples per set that published FID/KID/precision-recall numbers use (10k; FID often 50k)
PROTOCOL_SAMPLES = 10_000


def check_metric_names(metrics: Sequence[str]) -> tuple[str, ...]:
    """The metric names as a tuple; ``ValueError`` naming the valid ones otherwise."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(dict.fromkeys(metrics))
    if not metrics or any(m not in METRICS for m in metrics):
        raise ValueError(f"metrics must be a non-empty subset of {METRICS}, got {metrics!r}.")
    return metrics


#: (key, column header, scale) of :func:`format_table`; KID on the standardised scale
TABLE_COLUMNS = (
    ("fid", "FID", 1.0),
    ("kid_norm_mean", "KID_norm x1e3", 1e3),
    ("precision", "precision", 1.0),
    ("recall", "recall", 1.0),
    ("density", "density", 1.0),
    ("coverage", "coverage", 1.0),
    ("is_mean", "IS", 1.0),
)


def format_table(
    model: dict[str, float], baseline: dict[str, float] | None, features: str, n_fake: int,
    n_real: int,
) -> str:  # fmt: skip
    """The model's row and the real-vs-real row as a plain-text table (what ``lightning-gan
    validate|test`` and ``FeatureMetrics`` print).

    KID is printed as ``kid_norm`` x 1000 (KID on standardised features, :mod:`.kid`): raw KID
    is in the hundreds in the digit spaces and ~1e-2 with Inception, so only the standardised
    one reads the same across feature spaces.
    """
    columns = [(k, h, s) for k, h, s in TABLE_COLUMNS if k in model]
    label_model = f"model ({n_fake:,} generated vs {n_real:,} real)"
    rows = [(label_model, model)]
    if baseline is not None:
        half = int(baseline.get("n_real_vs_real", 0))
        rows.append((f"real vs real ({half:,} vs {half:,}, halves of the real set)", baseline))
    width = max(len(r[0]) for r in rows)
    head = f"{'features: ' + features:<{width}}" + "".join(f"  {h:>13}" for _, h, _ in columns)
    lines = [head, "-" * len(head)]
    for name, values in rows:
        cells = "".join(
            f"  {values[k] * scale:>13.4g}" if k in values else f"  {'-':>13}"
            for k, _, scale in columns
        )
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


def protocol_warning(metrics: Sequence[str], n_samples: int, who: str) -> str | None:
    """A message when ``n_samples`` is below the published protocol's count, else ``None``."""
    if n_samples >= PROTOCOL_SAMPLES:
        return None
    return (
        f"{who}: n_samples={n_samples:,} is below the {PROTOCOL_SAMPLES:,} samples that published "
        f"{'/'.join(metrics)} numbers use (50,000 for FID in most papers): FID and KID are "
        "biased upwards and precision/recall/coverage downwards with few samples; compare only "
        "runs with equal n_samples."
    )
