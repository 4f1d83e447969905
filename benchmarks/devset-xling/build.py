"""Rebuild the documents of devset-xling from Debian packages.

The set asks English questions of pages in other languages, other-language questions of
English pages, and questions whose answer is only in a chart, a diagram, a screenshot, a
photo or a scanned page. Every document is made here from Debian packages fetched with
``apt-get download``: page ranges of translated manuals (kept as they are, or rasterised
into image-only "scans"), pages built around the localized figures of the Debian
Administrator's Handbook, charts drawn from the data sets that python3-sklearn ships, and
photos from python3-skimage and python3-sklearn.

Usage::

    python benchmarks/devset-xling/build.py [--out DIR] [--debs DIR]

The output is deterministic for given package versions (scan noise is seeded); the
versions used are written to ``DIR/MANIFEST.json``. Queries name pages 1-based, so page
ranges below must not change without updating ``queries.jsonl``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import json
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent

# Versions in Debian 12 (bookworm) when the set was made; another version is used (and
# recorded) only where this one cannot be fetched.
PACKAGES = {
    "maint-guide-de": "1.2.53",
    "maint-guide-es": "1.2.53",
    "maint-guide-fr": "1.2.53",
    "maint-guide-ja": "1.2.53",
    "maint-guide-ru": "1.2.53",
    "maint-guide-zh-cn": "1.2.53",
    "debian-faq": "11.1",
    "debian-faq-de": "11.1",
    "debian-faq-fr": "11.1",
    "debian-faq-ko": "11.1",
    "debian-faq-nl": "11.1",
    "debian-reference-de": "2.100",
    "debian-reference-zh-cn": "2.100",
    "debian-handbook": "11.20220922",
    "python3-sklearn": "1.2.1+dfsg-1",
    "python3-skimage": "0.19.3-8",
    "fonts-dejavu-core": "2.37-6",
    "fonts-nanum": "20200506-1",
    "fonts-wqy-microhei": "0.2.0-beta-3.1",
}

FONT = "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
HANDBOOK = "usr/share/doc/debian-handbook/html"
SKLEARN = "usr/lib/python3/dist-packages/sklearn/datasets"
SKIMAGE = "usr/lib/python3/dist-packages/skimage/data"


def fetch(debs: Path, root: Path) -> dict[str, str]:
    """Download every package (pinned where possible) and unpack it under root."""
    debs.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    used: dict[str, str] = {}
    for name, version in PACKAGES.items():
        have = sorted(debs.glob(f"{name}_*.deb"))
        if not have:
            pinned = subprocess.run(
                ["apt-get", "download", f"{name}={version}"], cwd=debs, capture_output=True
            )
            if pinned.returncode != 0:
                print(f"{name}={version} not available, taking the candidate", file=sys.stderr)
                subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
            have = sorted(debs.glob(f"{name}_*.deb"))
        deb = have[-1]
        used[name] = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return used


def open_pdf(path: Path) -> pymupdf.Document:
    if path.suffix == ".gz":
        return pymupdf.open("pdf", gzip.decompress(path.read_bytes()))
    return pymupdf.open(path)


def pick(src: pymupdf.Document, ranges: list[tuple[int, int]]) -> pymupdf.Document:
    """A new PDF of the given 1-based inclusive page ranges."""
    out = pymupdf.open()
    for first, last in ranges:
        out.insert_pdf(src, from_page=first - 1, to_page=last - 1)
    out.set_toc([])
    return out


def save(doc: pymupdf.Document, path: Path) -> None:
    doc.set_metadata({"producer": "pagerag devset-xling", "creator": "build.py"})
    doc.save(path, garbage=4, deflate=True, no_new_id=True)


def scan(src: pymupdf.Document, seed: int) -> pymupdf.Document:
    """Rasterise every page like a photocopy: 150 dpi grey, tilted, noisy, no text layer."""
    rng = random.Random(seed)
    out = pymupdf.open()
    for page in src:
        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
        img = img.rotate(rng.uniform(-1.2, 1.2), resample=Image.BICUBIC, expand=False, fillcolor=245)
        img = img.filter(ImageFilter.GaussianBlur(0.6))
        grain = np.random.default_rng(seed * 1000 + page.number).normal(0, 14, (img.height, img.width))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8))
        # Uneven toner: a faint darker band where the page lay against the glass.
        shade = Image.linear_gradient("L").rotate(90).resize(img.size)
        img = Image.blend(img, Image.eval(shade, lambda v: 200 + v // 5), 0.05)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=55)
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=buf.getvalue())
    return out


def html_pdf(pages: list[Path], font_dir: Path, font_file: str, rtl: bool = False) -> pymupdf.Document:
    """Lay out HTML chapters on A4 pages with MuPDF's Story (shaping and bidi included)."""
    body = ""
    for page in pages:
        text = page.read_text(encoding="utf-8")
        m = re.search(r"<body[^>]*>(.*)</body>", text, re.S)
        part = m.group(1) if m else text
        for junk in (
            r'<div id="banner">.*?</div>',
            r'<p id="title">.*?</p>',
            r'<ul class="docnav.*?</ul>',
            r'<div class="navheader".*?</div>',
            r'<div class="navfooter".*?</div>\s*</div>',
            r"<img[^>]*>",
        ):
            part = re.sub(junk, "", part, flags=re.S)
        body += part
    direction = "direction: rtl; text-align: right;" if rtl else ""
    css = (
        f"@font-face {{font-family: F; src: url({font_file});}} * {{font-family: F;}} "
        f"body {{font-size: 10.5pt; line-height: 1.35; {direction}}} pre, code, tt {{font-size: 9pt;}} "
        "h1 {font-size: 17pt;} h2 {font-size: 14pt;} h3 {font-size: 12pt;}"
    )
    story = pymupdf.Story(html=body, user_css=css, archive=pymupdf.Archive(str(font_dir)))
    buf = io.BytesIO()
    writer = pymupdf.DocumentWriter(buf)
    more = True
    while more:
        device = writer.begin_page(pymupdf.paper_rect("a4"))
        more, _ = story.place(pymupdf.Rect(56, 56, 539, 786))
        story.draw(device)
        writer.end_page()
    writer.close()
    return pymupdf.open("pdf", buf.getvalue())


# --- pages built around an image -------------------------------------------------------


@dataclass(frozen=True)
class Plate:
    """One page: a heading, a short paragraph, then the image (the answer is in the image)."""

    heading: str
    body: str
    image: bytes


def plates_pdf(plates: list[Plate], font: Path, font_bold: Path, cjk: bool = False) -> pymupdf.Document:
    out = pymupdf.open()
    for plate in plates:
        page = out.new_page(width=595, height=842)
        if cjk:
            page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("china-s").buffer)
            page.insert_font(fontname="cjkb", fontbuffer=pymupdf.Font("china-s").buffer)
        else:
            page.insert_font(fontname="cjk", fontfile=str(font))
            page.insert_font(fontname="cjkb", fontfile=str(font_bold))
        page.insert_textbox(pymupdf.Rect(50, 50, 545, 110), plate.heading, fontname="cjkb", fontsize=14)
        used = page.insert_textbox(pymupdf.Rect(50, 110, 545, 250), plate.body, fontname="cjk", fontsize=10.5)
        top = 250 - max(used, 0) + 15
        img = Image.open(io.BytesIO(plate.image))
        box = pymupdf.Rect(50, top, 545, 800)
        scale = min(box.width / img.width, box.height / img.height)
        w, h = img.width * scale, img.height * scale
        page.insert_image(pymupdf.Rect(50, top, 50 + w, top + h), stream=plate.image)
    return out


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def handbook_figures(
    root: Path, lang: str, names: list[str], intro: str, captions: dict[str, str] | None = None
) -> list[Plate]:
    """Localized figures of the Debian Administrator's Handbook with their own captions."""
    captions = captions or {}
    base = root / HANDBOOK / lang
    html = "".join(p.read_text(encoding="utf-8") for p in sorted(base.glob("*.html")))
    plates = []
    for name in names:
        m = re.search(
            rf'images/{re.escape(name)}\.png".{{0,300}}?<p class="title"><strong>(.*?)</strong>', html
        )
        caption = re.sub(r"<[^>]+>", "", m.group(1)) if m else captions[name]
        plates.append(Plate(caption, intro, (base / "images" / f"{name}.png").read_bytes()))
    return plates


# --- charts from the data sets shipped in python3-sklearn ------------------------------


def read_sklearn_csv(root: Path, name: str) -> list[list[str]]:
    path = root / SKLEARN / "data" / name
    raw = gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text()
    return list(csv.reader(io.StringIO(raw)))


def bar_chart(
    font: Path,
    title: str,
    groups: list[str],
    series: list[tuple[str, list[float]]],
    y_label: str,
    fmt: str = "{:.2f}",
) -> Image.Image:
    """A grouped bar chart with the value printed on each bar."""
    colours = ["#3b6ea5", "#e0863a", "#4d9a5b", "#b8473e", "#7d5ba6"]
    w, h = 1400, 900
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f_title = ImageFont.truetype(str(font), 34)
    f = ImageFont.truetype(str(font), 24)
    f_small = ImageFont.truetype(str(font), 20)
    d.text((w // 2, 30), title, font=f_title, fill="black", anchor="mt")
    left, right, top, bottom = 130, w - 60, 110, h - 170
    vmax = max(v for _, vals in series for v in vals) * 1.15
    d.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=2)
    for i in range(6):
        v = vmax * i / 5
        y = bottom - (bottom - top) * i / 5
        d.line([(left - 8, y), (left, y)], fill="black", width=2)
        d.line([(left, y), (right, y)], fill="#dddddd", width=1)
        d.text(
            (left - 12, y), f"{v:.0f}" if vmax > 20 else f"{v:.1f}", font=f_small, fill="black", anchor="rm"
        )
    d.text((40, (top + bottom) // 2), y_label, font=f, fill="black", anchor="mm")
    slot = (right - left) / len(groups)
    bw = slot * 0.8 / len(series)
    for g, group in enumerate(groups):
        x0 = left + slot * g + slot * 0.1
        for s, (_, vals) in enumerate(series):
            x = x0 + bw * s
            y = bottom - (bottom - top) * vals[g] / vmax
            d.rectangle([x, y, x + bw - 4, bottom], fill=colours[s % len(colours)])
            d.text((x + (bw - 4) / 2, y - 6), fmt.format(vals[g]), font=f_small, fill="black", anchor="md")
        d.text((left + slot * (g + 0.5), bottom + 14), group, font=f, fill="black", anchor="mt")
    if len(series) > 1:
        lx = left + 20
        for s, (name, _) in enumerate(series):
            d.rectangle([lx, h - 80, lx + 26, h - 54], fill=colours[s % len(colours)])
            d.text((lx + 34, h - 67), name, font=f, fill="black", anchor="lm")
            lx += 60 + d.textlength(name, font=f)
    return img


def line_chart(
    font: Path, title: str, xs: list[str], ys: list[float], x_label: str, y_label: str
) -> Image.Image:
    """A line chart with the value printed at each point."""
    w, h = 1400, 900
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f_title = ImageFont.truetype(str(font), 34)
    f = ImageFont.truetype(str(font), 24)
    left, right, top, bottom = 150, w - 80, 110, h - 170
    vmax = max(ys) * 1.2
    d.text((w // 2, 30), title, font=f_title, fill="black", anchor="mt")
    d.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=2)
    for i in range(6):
        y = bottom - (bottom - top) * i / 5
        d.line([(left, y), (right, y)], fill="#dddddd", width=1)
        d.text((left - 12, y), f"{vmax * i / 5:.0f}", font=f, fill="black", anchor="rm")
    step = (right - left) / len(xs)
    pts = [(left + step * (i + 0.5), bottom - (bottom - top) * v / vmax) for i, v in enumerate(ys)]
    d.line(pts, fill="#b8473e", width=5)
    for (x, y), label, v in zip(pts, xs, ys, strict=True):
        d.ellipse([x - 9, y - 9, x + 9, y + 9], fill="#b8473e")
        d.text((x, y - 18), f"{v:.1f}", font=f, fill="black", anchor="md")
        d.text((x, bottom + 14), label, font=f, fill="black", anchor="mt")
    d.text((w // 2, h - 70), x_label, font=f, fill="black", anchor="mm")
    d.text((60, (top + bottom) // 2), y_label, font=f, fill="black", anchor="mm")
    return img


def pie_chart(font: Path, title: str, parts: list[tuple[str, int]]) -> Image.Image:
    colours = ["#3b6ea5", "#e0863a", "#4d9a5b", "#b8473e"]
    w, h = 1400, 900
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f_title = ImageFont.truetype(str(font), 34)
    f = ImageFont.truetype(str(font), 28)
    d.text((w // 2, 30), title, font=f_title, fill="black", anchor="mt")
    total = sum(n for _, n in parts)
    start = -90.0
    box = [150, 130, 850, 830]
    for i, (name, n) in enumerate(parts):
        end = start + 360 * n / total
        d.pieslice(box, start, end, fill=colours[i], outline="white", width=3)
        d.rectangle([920, 300 + 70 * i, 960, 340 + 70 * i], fill=colours[i])
        d.text(
            (975, 320 + 70 * i), f"{name}: {n} ({100 * n / total:.1f} %)", font=f, fill="black", anchor="lm"
        )
        start = end
    return img


def histogram(
    font: Path, title: str, values: list[float], edges: list[float], x_label: str, y_label: str
) -> Image.Image:
    counts = [sum(1 for v in values if lo <= v < hi) for lo, hi in itertools.pairwise(edges)]
    groups = [f"{lo:g}–{round(hi):g}" for lo, hi in itertools.pairwise(edges)]
    img = bar_chart(font, title, groups, [(x_label, [float(c) for c in counts])], y_label, fmt="{:.0f}")
    d = ImageDraw.Draw(img)
    d.text(
        (img.width // 2, img.height - 60),
        x_label,
        font=ImageFont.truetype(str(font), 26),
        fill="black",
        anchor="mm",
    )
    return img


def sklearn_charts(root: Path, font: Path) -> list[Plate]:
    """German pages, each around one chart; the numbers are only in the chart."""
    iris = read_sklearn_csv(root, "iris.csv")[1:]
    species = ["setosa", "versicolor", "virginica"]
    feats = ["Kelchblattlänge", "Kelchblattbreite", "Kronblattlänge", "Kronblattbreite"]
    means = [[sum(float(r[f]) for r in iris if int(r[4]) == s) / 50 for s in range(3)] for f in range(4)]
    wine = read_sklearn_csv(root, "wine_data.csv")[1:]
    wine_counts = [sum(1 for r in wine if int(r[13]) == c) for c in range(3)]
    alcohol = [sum(float(r[0]) for r in wine if int(r[13]) == c) / wine_counts[c] for c in range(3)]
    proline = [sum(float(r[12]) for r in wine if int(r[13]) == c) / wine_counts[c] for c in range(3)]
    cancer = read_sklearn_csv(root, "breast_cancer.csv")[1:]
    malignant = sum(1 for r in cancer if r[30] == "0")
    exercise = read_sklearn_csv(root, "linnerud_exercise.csv")
    physio = read_sklearn_csv(root, "linnerud_physiological.csv")
    ex = [[float(x) for x in r[0].split()] for r in exercise[1:]]
    ph = [[float(x) for x in r[0].split()] for r in physio[1:]]
    boston = read_sklearn_csv(root, "boston_house_prices.csv")[2:]
    medv = [float(r[13]) for r in boston]
    diabetes = [float(r[0]) for r in read_sklearn_csv(root, "diabetes_target.csv.gz")]
    src = "Datenquelle: Beispieldatensatz aus dem Debian-Paket python3-sklearn."
    return [
        Plate(
            "Abbildung 1: Schwertlilien – mittlere Blütenmaße je Art",
            "Für jede der drei Arten wurden 50 Blüten vermessen. "
            f"Das Diagramm zeigt die Mittelwerte der vier Maße in Zentimetern. {src}",
            png(
                bar_chart(
                    font,
                    "Mittelwerte der Blütenmaße (cm)",
                    species,
                    list(zip(feats, means, strict=True)),
                    "cm",
                )
            ),
        ),
        Plate(
            "Abbildung 2: Weinproben – Anzahl der Proben je Rebsorte",
            "Chemische Analyse von Weinen aus derselben Region Italiens, "
            f"drei Rebsorten (Klasse 0, 1 und 2). {src}",
            png(pie_chart(font, "Proben je Klasse", [(f"Klasse {c}", n) for c, n in enumerate(wine_counts)])),
        ),
        Plate(
            "Abbildung 3: Weinproben – mittlerer Alkoholgehalt je Klasse",
            f"Mittelwert der Spalte Alkohol (Volumenprozent) für jede der drei Klassen. {src}",
            png(
                bar_chart(
                    font,
                    "Alkohol (Vol.-%)",
                    ["Klasse 0", "Klasse 1", "Klasse 2"],
                    [("Alkohol", alcohol)],
                    "Vol.-%",
                )
            ),
        ),
        Plate(
            "Abbildung 4: Weinproben – mittlerer Prolingehalt je Klasse",
            f"Mittelwert der Aminosäure Prolin (mg/l) für jede Klasse. {src}",
            png(
                bar_chart(
                    font,
                    "Prolin (mg/l)",
                    ["Klasse 0", "Klasse 1", "Klasse 2"],
                    [("Prolin", proline)],
                    "mg/l",
                    fmt="{:.0f}",
                )
            ),
        ),
        Plate(
            "Abbildung 5: Brustkrebs-Befunde aus Wisconsin – Verteilung der Diagnosen",
            "Feinnadelbiopsien, aus digitalisierten Bildern berechnete Merkmale; "
            f"das Diagramm zeigt den Anteil der Diagnosen. {src}",
            png(
                pie_chart(font, "Diagnosen", [("bösartig", malignant), ("gutartig", len(cancer) - malignant)])
            ),
        ),
        Plate(
            "Abbildung 6: Linnerud – Übungen und Körpermaße von 20 Männern",
            "Mittelwerte über die 20 Teilnehmer eines Fitnessclubs: "
            f"drei Übungen und drei physiologische Messungen. {src}",
            png(
                bar_chart(
                    font,
                    "Linnerud: Mittelwerte",
                    ["Klimmzüge", "Sit-ups", "Sprünge", "Gewicht (lb)", "Taille (in)", "Puls"],
                    [
                        (
                            "Mittelwert",
                            [sum(r[i] for r in ex) / 20 for i in range(3)]
                            + [sum(r[i] for r in ph) / 20 for i in range(3)],
                        )
                    ],
                    "Wert",
                    fmt="{:.1f}",
                )
            ),
        ),
        Plate(
            "Abbildung 7: Bostoner Wohnungsmarkt – Verteilung der mittleren Hauswerte",
            "Häufigkeit der Bezirke nach mittlerem Wert der selbstgenutzten Häuser "
            f"(in 1000 US-Dollar), 506 Bezirke. {src}",
            png(
                histogram(
                    font,
                    "Bezirke nach mittlerem Hauswert",
                    medv,
                    [5, 10, 15, 20, 25, 30, 35, 40, 45, 50.01],
                    "Hauswert (1000 USD)",
                    "Bezirke",
                )
            ),
        ),
        Plate(
            "Abbildung 8: Diabetes – Verteilung der Krankheitsprogression nach einem Jahr",
            f"Quantitatives Maß des Krankheitsverlaufs ein Jahr nach Studienbeginn, 442 Patienten. {src}",
            png(
                histogram(
                    font,
                    "Patienten nach Progressionswert",
                    diabetes,
                    [25, 75, 125, 175, 225, 275, 325, 375],
                    "Progressionswert",
                    "Patienten",
                )
            ),
        ),
    ]


def sklearn_charts_zh(root: Path, font: Path) -> list[Plate]:
    """Chinese pages around charts of other columns of the same data sets."""
    wine = read_sklearn_csv(root, "wine_data.csv")[1:]
    by_class = [[r for r in wine if int(r[13]) == c] for c in range(3)]
    colour = [sum(float(r[9]) for r in rows) / len(rows) for rows in by_class]
    magnesium = [sum(float(r[4]) for r in rows) / len(rows) for rows in by_class]
    cancer = read_sklearn_csv(root, "breast_cancer.csv")[1:]
    groups = [[r for r in cancer if r[30] == t] for t in ("0", "1")]
    radius = [sum(float(r[0]) for r in g) / len(g) for g in groups]
    texture = [sum(float(r[1]) for r in g) / len(g) for g in groups]
    boston = read_sklearn_csv(root, "boston_house_prices.csv")[2:]
    rooms = [(4, 5), (5, 6), (6, 7), (7, 8), (8, 9)]
    by_rooms = [[float(r[13]) for r in boston if lo <= float(r[5]) < hi] for lo, hi in rooms]
    value = [sum(v) / len(v) for v in by_rooms]
    raw = gzip.decompress((root / SKLEARN / "data" / "diabetes_data_raw.csv.gz").read_bytes()).decode()
    ages = [float(line.split()[0]) for line in raw.splitlines() if line.strip()]
    digits = read_sklearn_csv(root, "digits.csv.gz")
    digit_counts = [sum(1 for r in digits if int(float(r[64])) == n) for n in range(10)]
    src = "数据来源：Debian 软件包 python3-sklearn 自带的示例数据集。"
    classes = ["类别 0", "类别 1", "类别 2"]
    return [
        Plate(
            "图 1：葡萄酒样本——各类别的平均颜色强度",
            f"对同一产区三个葡萄品种的葡萄酒进行化学分析，下图给出每个类别颜色强度的平均值。{src}",
            png(bar_chart(font, "平均颜色强度", classes, [("颜色强度", colour)], "强度")),
        ),
        Plate(
            "图 2：葡萄酒样本——各类别的平均镁含量",
            f"每个类别中镁含量（毫克/升）的平均值。{src}",
            png(bar_chart(font, "平均镁含量（mg/l）", classes, [("镁", magnesium)], "mg/l", fmt="{:.1f}")),
        ),
        Plate(
            "图 3：威斯康星乳腺癌数据——恶性与良性肿瘤的细胞核平均半径和纹理",
            f"由细针穿刺图像计算得到的细胞核特征，按诊断结果分组求平均。{src}",
            png(
                bar_chart(
                    font,
                    "按诊断分组的平均值",
                    ["恶性", "良性"],
                    [("平均半径", radius), ("平均纹理", texture)],
                    "值",
                )
            ),
        ),
        Plate(
            "图 4：波士顿住房数据——按平均房间数分组的房屋价值中位数",
            f"按每套住宅平均房间数分组，计算各组房屋价值中位数（单位：千美元）的平均值，共 506 个街区。{src}",
            png(
                line_chart(
                    font,
                    "房间数与房屋价值",
                    [f"{lo}–{hi}" for lo, hi in rooms],
                    value,
                    "平均房间数",
                    "千美元",
                )
            ),
        ),
        Plate(
            "图 5：糖尿病数据——患者年龄分布",
            f"442 名糖尿病患者按年龄段统计的人数。{src}",
            png(
                histogram(font, "各年龄段患者人数", ages, [19, 30, 40, 50, 60, 70, 80], "年龄（岁）", "人数")
            ),
        ),
        Plate(
            "图 6：手写数字数据——每个数字的样本数",
            f"8×8 像素的手写数字图像，按数字 0 到 9 统计样本数量。{src}",
            png(
                bar_chart(
                    font,
                    "每个数字的样本数",
                    [str(n) for n in range(10)],
                    [("样本数", [float(c) for c in digit_counts])],
                    "样本数",
                    fmt="{:.0f}",
                )
            ),
        ),
    ]


def photos(root: Path) -> list[Plate]:
    """Spanish pages around photos; the caption does not say what the photo shows."""
    files = [
        (SKIMAGE, "astronaut.png"),
        (SKIMAGE, "coffee.png"),
        (SKIMAGE, "chelsea.png"),
        (SKIMAGE, "rocket.jpg"),
        (SKIMAGE, "motorcycle_left.png"),
        (f"{SKLEARN}/images", "china.jpg"),
        (f"{SKLEARN}/images", "flower.jpg"),
        (SKIMAGE, "camera.png"),
        (SKIMAGE, "coins.png"),
        (SKIMAGE, "hubble_deep_field.jpg"),
    ]
    plates = []
    for n, (folder, name) in enumerate(files, 1):
        plates.append(
            Plate(
                f"Fotografía {n}",
                "Imagen de muestra incluida en los paquetes de Debian para probar algoritmos de "
                "procesamiento de imágenes. Se reproduce sin modificaciones.",
                png(Image.open(root / folder / name)),
            )
        )
    return plates


# --- the documents ----------------------------------------------------------------------


def build(out: Path, debs: Path) -> dict[str, object]:
    root = debs / "root"
    used = fetch(debs, root)
    font, font_bold = root / FONT, root / FONT_BOLD
    out.mkdir(parents=True, exist_ok=True)
    docs: dict[str, str] = {}

    def ranges(name: str, src: str, rs: list[tuple[int, int]], note: str) -> None:
        save(pick(open_pdf(root / src), rs), out / name)
        docs[name] = note

    def scanned(name: str, src: str, rs: list[tuple[int, int]], seed: int, note: str) -> None:
        save(scan(pick(open_pdf(root / src), rs), seed), out / name)
        docs[name] = note

    def plates(name: str, ps: list[Plate], note: str, cjk: bool = False) -> None:
        save(plates_pdf(ps, font, font_bold, cjk), out / name)
        docs[name] = note

    mg = "usr/share/doc/maint-guide-{0}/maint-guide.{0}.pdf"
    faq = "usr/share/doc/debian/FAQ/debian-faq.{0}.pdf.gz"
    ref = "usr/share/debian-reference/debian-reference.{0}.pdf"
    ranges("maint-guide-de.pdf", mg.format("de"), [(12, 24)], "maint-guide-de pp. 12-24 (ch. 2-3)")
    ranges("maint-guide-fr.pdf", mg.format("fr"), [(24, 35)], "maint-guide-fr pp. 24-35 (ch. 4)")
    ranges("maint-guide-es.pdf", mg.format("es"), [(38, 47)], "maint-guide-es pp. 38-47 (ch. 5)")
    ranges("maint-guide-ja.pdf", mg.format("ja"), [(48, 56)], "maint-guide-ja pp. 48-56 (ch. 6-7)")
    ranges("maint-guide-zh-cn.pdf", mg.format("zh-cn"), [(53, 58)], "maint-guide-zh-cn pp. 53-58 (ch. 8-9)")
    scanned(
        "maint-guide-ru-scan.pdf",
        mg.format("ru"),
        [(7, 11), (64, 69)],
        16,
        "maint-guide-ru pp. 7-11, 64-69 (ch. 1, 10) as a scan",
    )
    scanned(
        "debian-faq-de-scan.pdf",
        faq.format("de"),
        [(33, 42)],
        17,
        "debian-faq-de pp. 33-42 (ch. 6-7) as a scan",
    )
    ranges("debian-faq-nl.pdf", faq.format("nl"), [(15, 26)], "debian-faq-nl pp. 15-26 (ch. 3-4)")
    ranges("debian-faq-fr.pdf", faq.format("fr"), [(45, 54)], "debian-faq-fr pp. 45-54 (ch. 8-9)")
    ranges(
        "debian-faq-en.pdf",
        faq.format("en"),
        [(9, 12), (61, 68)],
        "debian-faq (English) pp. 9-12, 61-68 (ch. 1, 12-14)",
    )
    ranges(
        "debian-reference-de.pdf",
        ref.format("de"),
        [(132, 140), (165, 170)],
        "debian-reference-de pp. 132-140, 165-170 (ch. 5, 8)",
    )
    ranges(
        "debian-reference-zh-cn.pdf",
        ref.format("zh-cn"),
        [(100, 118)],
        "debian-reference-zh-cn pp. 100-118 (ch. 3-4)",
    )
    faq_ko = root / "usr/share/doc/debian/FAQ/ko"
    save(
        html_pdf(
            [faq_ko / f"{c}.ko.html" for c in ("software", "kernel", "customizing")],
            root / "usr/share/fonts/truetype/nanum",
            "NanumGothic.ttf",
        ),
        out / "debian-faq-ko.pdf",
    )
    docs["debian-faq-ko.pdf"] = "debian-faq-ko HTML ch. 5, 10, 11 laid out as PDF"
    hb_fa = root / HANDBOOK / "fa-IR"
    save(
        html_pdf(
            [hb_fa / f"sect.{c}.html" for c in ("computer-layers", "kernel-role-and-tasks", "user-space")],
            font.parent,
            font.name,
            rtl=True,
        ),
        out / "handbook-fa.pdf",
    )
    docs["handbook-fa.pdf"] = "debian-handbook fa-IR appendix B.3-B.5 (partly translated) laid out as PDF"
    plates(
        "handbook-figures-fr.pdf",
        handbook_figures(
            root,
            "fr-FR",
            [
                "package-lifecycle",
                "netfilter",
                "mail-server",
                "ssh-L",
                "selinux-context",
                "inst-tasksel",
                "inst-partman",
            ],
            "Figure reproduite du Cahier de l'administrateur Debian (paquet debian-handbook).",
            {"netfilter": "Chaînes netfilter et parcours d'un paquet réseau"},
        ),
        "debian-handbook fr-FR figures",
    )
    plates(
        "handbook-figures-ja.pdf",
        handbook_figures(
            root,
            "ja-JP",
            ["release-cycle", "case-study", "startup-systemd", "virtual-package", "inst-mirror", "firefox"],
            "Debian 管理者ハンドブック (debian-handbook パッケージ) の図。",
        ),
        "debian-handbook ja-JP figures",
        cjk=True,
    )
    plates(
        "handbook-figures-es.pdf",
        handbook_figures(
            root,
            "es-ES",
            ["autobuilder", "ssh-R", "startup-sysvinit", "selinux-transitions", "aptitude", "inst-rootpw"],
            "Figura tomada del Manual del Administrador de Debian (paquete debian-handbook).",
        ),
        "debian-handbook es-ES figures",
    )
    plates(
        "handbook-figures-pt.pdf",
        handbook_figures(
            root,
            "pt-BR",
            ["existing-setup-1", "existing-setup-2", "developers-map", "wireshark", "evolution", "kde"],
            "Figura do Manual do Administrador Debian (pacote debian-handbook).",
        ),
        "debian-handbook pt-BR figures",
    )
    plates(
        "datensaetze-diagramme-de.pdf",
        sklearn_charts(root, font),
        "charts drawn from python3-sklearn data sets",
    )
    plates("fotografias-es.pdf", photos(root), "photos from python3-skimage and python3-sklearn")
    wqy = root / "usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    plates(
        "shuju-tubiao-zh.pdf",
        sklearn_charts_zh(root, wqy),
        "charts drawn from python3-sklearn data sets, Chinese",
        cjk=True,
    )
    scanned(
        "debian-reference-zh-cn-scan.pdf",
        ref.format("zh-cn"),
        [(197, 204)],
        18,
        "debian-reference-zh-cn pp. 197-204 (ch. 10) as a scan",
    )

    manifest = {"packages": used, "documents": docs}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "docs")
    parser.add_argument("--debs", type=Path, default=HERE / ".debs")
    args = parser.parse_args()
    manifest = build(args.out, args.debs)
    for name, note in manifest["documents"].items():  # type: ignore[union-attr]
        pages = pymupdf.open(args.out / name).page_count
        print(f"{name:32} {pages:3} pages  {note}")


if __name__ == "__main__":
    main()
