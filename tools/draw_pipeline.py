"""Draw nbs/images/pipeline.png: the data flow of deepearth_training, for the README and the docs home page."""

from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parent.parent / 'nbs' / 'images' / 'pipeline.png'
BOXES = {  # name: (x, y, title, detail, colour)
    'source': (0.0, 2.0, 'source dataset', 'Hugging Face layout or\ndeepearth-synth', '#d9e6f2'),
    'store': (3.3, 2.0, 'store', 'deepearth-prepare\nmemory-mapped, fp16', '#d9e6f2'),
    'split': (6.6, 3.4, 'split', 'deepearth-split\n2025 + 5 regions, maps', '#e8f0d8'),
    'loader': (6.6, 2.0, 'loader', 'get_training_batch\nDeepEarthDataset', '#e8f0d8'),
    'bench': (6.6, 0.6, 'benchmark', 'deepearth-bench\nvs parquet, HTTP, memcpy', '#f6e3cf'),
    'models': (9.9, 2.0, 'models + training', 'deepearth-train\nclassifiers, autoencoder', '#f2dada'),
}
ARROWS = [
    ('source', 'store'),
    ('store', 'split'),
    ('store', 'loader'),
    ('store', 'bench'),
    ('split', 'models'),
    ('loader', 'models'),
]
W, H = 2.6, 1.0


def main() -> None:
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for x, y, title, detail, colour in BOXES.values():
        ax.add_patch(
            FancyBboxPatch((x, y), W, H, boxstyle='round,pad=0.05,rounding_size=0.12', fc=colour, ec='#404040', lw=1)
        )
        ax.text(x + W / 2, y + 0.72, title, ha='center', va='center', fontsize=11, weight='bold')
        ax.text(
            x + W / 2, y + 0.32, detail, ha='center', va='center', fontsize=8.5, family='monospace', linespacing=1.3
        )
    for a, b in ARROWS:
        (xa, ya), (xb, yb) = BOXES[a][:2], BOXES[b][:2]
        ax.add_patch(
            FancyArrowPatch(
                (xa + W + 0.05, ya + H / 2),
                (xb - 0.05, yb + H / 2),
                arrowstyle='-|>',
                mutation_scale=14,
                color='#404040',
                lw=1.1,
                connectionstyle='arc3,rad=0',
            )
        )
    ax.set(xlim=(-0.2, 12.7), ylim=(0.4, 4.6))
    ax.axis('off')
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110, bbox_inches='tight', metadata={'Software': None})
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
