"""The standard plots of a trace, drawn with matplotlib into PNG files:

    exit_reason_histogram(events, "reasons.png")   exits by reason and level
    latency_cdf(events, "cdf.png")                 handling time CDF per reason
    exits_over_time(events, "time.png")            exits per level over time

`events` is a list of tortuga.Event (from VM.trace() or read_events()).
Every function returns the path it wrote. matplotlib (python3-matplotlib)
is imported on first use, with the file-only Agg backend.
"""

from .analysis import exit_counts, handling_times, EXIT


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def exit_reason_histogram(events, path, title="VM exits by reason"):
    """Horizontal bars: exits per reason, one colour per exiting level."""
    plt = _pyplot()
    counts = exit_counts(events)
    reasons = sorted({r for _, r in counts}, key=lambda r: -sum(c for (l, rr), c in counts.items() if rr == r))
    levels = sorted({l for l, _ in counts})
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * max(len(reasons), 1)))
    left = [0] * len(reasons)
    for level in levels:
        vals = [counts.get((level, r), 0) for r in reasons]
        ax.barh(reasons, vals, left=left, label="from L%d" % level)
        left = [a + b for a, b in zip(left, vals)]
    ax.invert_yaxis()
    ax.set_xlabel("exits")
    ax.set_title(title)
    if levels:
        ax.legend()
    return _save(fig, path)


def latency_cdf(events, path, clock="ns", top=8, title=None):
    """Empirical CDF of the handling time (exit to entry) of the `top` most
    frequent (level, reason) pairs, on a log axis."""
    plt = _pyplot()
    times = handling_times(events, clock)
    keys = sorted(times, key=lambda k: -len(times[k]))[:top]
    fig, ax = plt.subplots(figsize=(8, 5))
    for level, reason in keys:
        xs = sorted(times[(level, reason)])
        n = len(xs)
        ax.step(xs, [(i + 1) / n for i in range(n)], where="post",
                label="L%d %s (%d)" % (level, reason, n))
    if keys:
        ax.set_xscale("log")
        ax.legend(fontsize="small")
    ax.set_xlabel("handling time (%s)" % ("host ns" if clock == "ns" else "modelled cycles"))
    ax.set_ylabel("fraction of exits")
    ax.set_title(title or "Exit handling time, CDF per reason")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def exits_over_time(events, path, bins=50, clock="ns", title="VM exits per level over time"):
    """Exits per time bin, one line per exiting level."""
    plt = _pyplot()
    xs = [e for e in events if e.kind == EXIT]
    t = (lambda e: e.ts_ns) if clock == "ns" else (lambda e: e.cycles)
    fig, ax = plt.subplots(figsize=(8, 4))
    if xs:
        t0, t1 = min(map(t, xs)), max(map(t, xs))
        width = max((t1 - t0) / bins, 1)
        for level in sorted({e.level for e in xs}):
            hist = [0] * bins
            for e in xs:
                if e.level == level:
                    hist[min(int((t(e) - t0) / width), bins - 1)] += 1
            centres = [(t0 + (i + 0.5) * width - t0) / (1e6 if clock == "ns" else 1) for i in range(bins)]
            ax.plot(centres, hist, label="L%d exits" % level)
        ax.legend()
    ax.set_xlabel("time since the first exit (%s)" % ("ms" if clock == "ns" else "modelled cycles"))
    ax.set_ylabel("exits per bin")
    ax.set_title(title)
    return _save(fig, path)
