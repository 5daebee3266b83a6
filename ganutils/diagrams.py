"""The course's diagrams, drawn with matplotlib so that each lesson shows them wherever it runs.

`draw_flow()` is the GAN's data flow and each network's loss (lesson 1), `draw_flow(conditional=True)`
adds the label (lessons 2 and 4), and `draw_dcgan()` gives the DCGAN's tensor shapes (lessons 3 and 4).
`save_diagrams(folder)` writes all three as PNGs (the repository's `images/`).
"""

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon

DPI = 130
FONT = 11
COLOURS = {
    "noise": "#e3e8f0",
    "generator": "#c9e7c4",
    "fake": "#e6f4e2",
    "real": "#cfe0f5",
    "discriminator": "#f7d6b5",
    "output": "#f2f2f2",
    "label": "#e2d3f2",
    "label_line": "#7b3fb8",
    "loss_d": "#b5561b",
    "loss_g": "#2f7d32",
    "edge": "#333333",
}


def draw_box(ax, xy, text, colour, size=(14, 9), fontsize=FONT, edge=None):
    """Draw a rounded box centred on xy with centred text; return its (left, bottom, right, top)."""
    (x, y), (w, h) = xy, size
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=1.2",
                                facecolor=colour, edgecolor=edge or COLOURS["edge"], linewidth=1.4))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, linespacing=1.4)
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def draw_arrow(ax, start, end, label=None, colour=None, label_offset=(0, 1.5), dashed=False, width=1.6):
    """Draw an arrow from start to end, with an optional label near its midpoint."""
    colour = colour or COLOURS["edge"]
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=16, color=colour,
                                 linewidth=width, linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))
    if label:
        mid = ((start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1])
        ax.text(*mid, label, ha="center", va="center", fontsize=FONT - 1, color=colour)


def draw_path(ax, points, colour, dashed=False, width=1.6):
    """Draw a right-angled line through points, with an arrow head on the last segment."""
    style = "--" if dashed else "-"
    xs, ys = zip(*points[:-1])
    ax.plot(xs, ys, color=colour, linewidth=width, linestyle=style, solid_capstyle="butt")
    draw_arrow(ax, points[-2], points[-1], colour=colour, dashed=dashed, width=width)


def new_canvas(width_in, height_in, xlim, ylim):
    """A blank figure whose axes use equal-scaled data units and show no frame."""
    fig, ax = plt.subplots(figsize=(width_in, height_in))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def draw_flow(conditional=False):
    """Draw the GAN data flow; with conditional=True add the label y going into G and D."""
    bottom = -6 if conditional else 0
    fig, ax = new_canvas(10.5, (56 - bottom) / 10, (0, 106), (bottom, 53))
    g_in = "G(z, y)" if conditional else "G(z)"
    d_in = "D(·, y)" if conditional else "D(·)"
    d_of_fake = "D(G(z, y), y)" if conditional else "D(G(z))"
    draw_box(ax, (10, 36), "noise z ~ N(0, I)\n(100 numbers)", COLOURS["noise"], size=(19, 9))
    draw_box(ax, (35, 36), "Generator\nG", COLOURS["generator"], size=(13, 9))
    draw_box(ax, (58, 36), f"fake image\n{g_in}", COLOURS["fake"], size=(15, 9))
    draw_box(ax, (58, 18), "real image x\nfrom MNIST", COLOURS["real"], size=(15, 9))
    draw_box(ax, (78.5, 27), "Discriminator\nD", COLOURS["discriminator"], size=(16, 14))
    draw_box(ax, (97, 27), f"{d_in} =\nP(\"real\")", COLOURS["output"], size=(14, 9))
    draw_arrow(ax, (19.5, 36), (28.5, 36))
    draw_arrow(ax, (41.5, 36), (50.5, 36))
    draw_arrow(ax, (65.5, 36), (70.5, 30.5))
    draw_arrow(ax, (65.5, 18), (70.5, 23.5))
    draw_arrow(ax, (86.5, 27), (90, 27))

    # G's loss: its gradients come back through D, but only G's weights follow them.
    draw_path(ax, [(97, 31.5), (97, 47), (35, 47), (35, 40.5)], COLOURS["loss_g"], dashed=True)
    ax.text(65, 49.5, f"G's loss: make {d_of_fake} → 1  (gradients flow back through D; only G's weights move)",
            ha="center", va="center", fontsize=FONT, color=COLOURS["loss_g"], fontweight="bold")
    # D's loss: trained on both kinds of input.
    draw_path(ax, [(97, 22.5), (97, 6), (82.5, 6), (82.5, 20)], COLOURS["loss_d"], dashed=True)
    ax.text(80, 2.5, f"D's loss: output 1 for real x, 0 for fake {g_in}",
            ha="center", va="center", fontsize=FONT, color=COLOURS["loss_d"], fontweight="bold")

    if conditional:
        colour = COLOURS["label_line"]
        draw_box(ax, (22, 14), "label y: digit 0-9\n(one-hot, 10 numbers)", COLOURS["label"],
                 size=(24, 9), edge=colour)
        draw_arrow(ax, (29, 18.5), (33, 31.5), colour=colour, width=2.2)
        ax.text(33.5, 25, "joined to z", ha="left", va="center", fontsize=FONT - 1, color=colour)
        draw_path(ax, [(34, 11), (74.5, 11), (74.5, 20)], colour, width=2.2)
        ax.text(56, 9, "joined to the image", ha="center", va="center", fontsize=FONT - 1, color=colour)
        ax.text(52, -3.5, "G(z, y) must produce digit y;  D judges \"a real image of digit y?\"",
                ha="center", va="center", fontsize=FONT + 1, style="italic", color=colour)
        ax.set_title("Conditional GAN: the label y goes into both G and D", fontsize=FONT + 4, pad=4)
    else:
        ax.set_title("GAN: the generator forges, the discriminator judges", fontsize=FONT + 4, pad=4)
    return fig


def draw_tensor(ax, x, y, height, channels, caption, colour, scale=0.27, depth_scale=0.035):
    """Draw a height x height x channels tensor as a block starting at x, centred on y; return its right edge."""
    side = max(height * scale, 0.4)
    depth = max(channels * depth_scale, 0.12)
    dx, dy = depth * 0.8, depth * 0.55
    bottom, top = y - side / 2, y + side / 2
    front = [(x, bottom), (x + side, bottom), (x + side, top), (x, top)]
    top_face = [(x, top), (x + side, top), (x + side + dx, top + dy), (x + dx, top + dy)]
    side_face = [(x + side, bottom), (x + side + dx, bottom + dy), (x + side + dx, top + dy), (x + side, top)]
    for face, shade in ((side_face, 0.75), (top_face, 0.9), (front, 1.0)):
        ax.add_patch(Polygon(face, closed=True, facecolor=colour, edgecolor=COLOURS["edge"],
                             linewidth=1.0, alpha=shade))
    ax.text(x + (side + dx) / 2, y - 5.6, caption, ha="center", va="top", fontsize=FONT, linespacing=1.3)
    return x + side + dx


def draw_pipeline(ax, y, stages, colour, gap=11.5):
    """Draw tensors left to right on the line y, joined by arrows labelled with the layers between them."""
    x = 1.0
    for i, stage in enumerate(stages):
        if i % 2 == 0:
            x = draw_tensor(ax, x, y, *stage, colour)
        else:
            draw_arrow(ax, (x + 0.8, y), (x + gap - 0.8, y))
            ax.text(x + gap / 2, y + 1.2, stage, ha="center", va="bottom", fontsize=FONT - 1, linespacing=1.3)
            x += gap


def draw_dcgan():
    """Draw the DCGAN generator's tensor shapes, with the discriminator's below."""
    fig, ax = new_canvas(10.5, 6.6, (0, 76), (-8, 41))
    generator = [
        (1, 100, "z\n100 numbers"),
        "Dense 100,\nDense 6,272,\neach + BatchNorm\n+ LeakyReLU;\nreshape",
        (7, 128, "7×7×128"),
        "Conv2DTranspose\n4×4, stride 2\n+ BatchNorm\n+ LeakyReLU",
        (14, 64, "14×14×64"),
        "Conv2DTranspose\n4×4, stride 2,\ntanh",
        (28, 1, "28×28×1\nimage G(z)"),
    ]
    discriminator = [
        (28, 1, "28×28×1\nimage x"),
        "Conv2D\n4×4, stride 2\n+ LeakyReLU",
        (14, 64, "14×14×64"),
        "Conv2D\n4×4, stride 2\n+ LeakyReLU",
        (7, 128, "7×7×128"),
        "flatten,\nDense",
        (1, 1, "logit;\nD(x) = σ(logit)"),
    ]
    ax.text(0.5, 38.5, "Generator G: noise → image (each transposed convolution doubles the size)",
            fontsize=FONT + 2, fontweight="bold", va="center")
    draw_pipeline(ax, 27, generator, COLOURS["generator"])
    ax.text(0.5, 13.5, "Discriminator D: image → score (each strided convolution halves the size;\n"
            "in training, each image is first shifted by up to 2 pixels)",
            fontsize=FONT + 2, fontweight="bold", va="center")
    draw_pipeline(ax, 2, discriminator, COLOURS["discriminator"])
    ax.set_title("DCGAN tensor shapes  (block height ∝ image size, depth ∝ channels)",
                 fontsize=FONT + 4, pad=12)
    return fig


DIAGRAMS = {
    "gan_flow.png": draw_flow,
    "cgan_flow.png": lambda: draw_flow(conditional=True),
    "dcgan_generator.png": draw_dcgan,
}


def save_diagrams(folder):
    """Draw every diagram and save it as a PNG in `folder`; returns the paths written."""
    paths = []
    for name, draw in DIAGRAMS.items():
        figure = draw()
        paths.append(Path(folder) / name)
        figure.savefig(paths[-1], dpi=DPI, facecolor="white", bbox_inches="tight", pad_inches=0.15)
        plt.close(figure)
    return paths
