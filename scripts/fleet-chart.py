#!/usr/bin/env python3
"""Draws how the fleet figures grow with the number of clusters, from load-fleet.sh's CSV lines.

    scripts/fleet-chart.py FIGURES.csv OUT.svg

One panel per figure (start, release, first drift, peak RSS), one line per backend, plain SVG.
"""
import sys
from collections import defaultdict

FIGURES = [("start_s", "start with the fleet (s)"), ("release_s", "release, all clusters (s)"),
           ("drift_first_ms", "drift report, first call (ms)"), ("peak_rss_mb", "peak RSS (MB)")]
COLOURS = {"sqlite": "#1f77b4", "postgres": "#d62728"}
W, H, PAD = 300, 200, 40


def main(src, out):
    data = defaultdict(lambda: defaultdict(list))  # figure -> backend -> [(clusters, value)]
    for line in open(src):
        parts = line.strip().split(",")
        if len(parts) != 7 or parts[0] != "csv":
            continue
        _, backend, clusters, _, figure, value, _ = parts
        data[figure][backend].append((int(clusters), float(value)))
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{2 * H + 20}" '
           'font-family="sans-serif" font-size="10">']
    for i, (figure, title) in enumerate(FIGURES):
        ox, oy = (i % 2) * W, (i // 2) * H
        series = data.get(figure, {})
        points = [p for s in series.values() for p in s]
        if not points:
            continue
        xmax = max(x for x, _ in points) or 1
        ymax = max(y for _, y in points) or 1
        sx = lambda x: ox + PAD + (W - 2 * PAD) * x / xmax
        sy = lambda y: oy + H - PAD + 10 - (H - 2 * PAD) * y / ymax
        svg.append(f'<text x="{ox + PAD}" y="{oy + 20}" font-weight="bold">{title}</text>')
        svg.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(xmax)}" y2="{sy(0)}" stroke="#888"/>')
        svg.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="{sy(ymax)}" stroke="#888"/>')
        svg.append(f'<text x="{sx(0) - 4}" y="{sy(ymax) + 4}" text-anchor="end">{ymax:g}</text>')
        svg.append(f'<text x="{sx(xmax)}" y="{sy(0) + 14}" text-anchor="end">{xmax:,} clusters</text>')
        for backend, pts in sorted(series.items()):
            pts.sort()
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            colour = COLOURS.get(backend, "#333")
            svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for x, y in pts:
                svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>')
    legend = "  ".join(f'<tspan fill="{c}">■ {b}</tspan>' for b, c in COLOURS.items())
    svg.append(f'<text x="{PAD}" y="{2 * H + 12}">{legend}</text>')
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
