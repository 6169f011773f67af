#!/usr/bin/env python3
"""Makes the development seal and signature images of the default signing profile.

config/appearance/dev-seal.png: a red round seal (two rings, a band of strokes standing for the
agency's name, a star), transparent background, 400 x 400 px.
config/appearance/dev-signature.png: a dark blue handwritten-looking stroke, transparent
background, 600 x 220 px.

Both are marked as samples by their shape only; they are not any real agency's seal. Pure Python
(zlib + struct), deterministic: running it again gives the same bytes.
Usage: python3 scripts/make-appearance-images.py [OUT_DIR]
"""
import math
import os
import struct
import sys
import zlib


def write_png(path, w, h, rgba):
    raw = b"".join(b"\x00" + bytes(rgba[y * w * 4:(y + 1) * w * 4]) for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def coverage(inside, x, y, n=3):
    """Anti-aliased coverage of a pixel by supersampling n x n."""
    hits = 0
    for i in range(n):
        for j in range(n):
            if inside(x + (i + 0.5) / n, y + (j + 0.5) / n):
                hits += 1
    return hits / (n * n)


def seal(path):
    w = h = 400
    cx = cy = 200.0
    red = (218, 37, 29)
    star = []
    for k in range(10):
        r = 62 if k % 2 == 0 else 25
        a = -math.pi / 2 + k * math.pi / 5
        star.append((cx + r * math.cos(a), cy + r * math.sin(a)))

    def in_star(x, y):
        inside = False
        for i in range(len(star)):
            (x1, y1), (x2, y2) = star[i], star[i - 1]
            if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                inside = not inside
        return inside

    def inside(x, y):
        d = math.hypot(x - cx, y - cy)
        if 186 <= d <= 196 or 122 <= d <= 128:
            return True
        if 136 <= d <= 176:
            # A band of short strokes around the ring: the agency's name on a real seal.
            a = math.atan2(y - cy, x - cx)
            seg = (a + math.pi) / (2 * math.pi) * 72
            frac = seg - math.floor(seg)
            if abs(a - math.pi / 2) < 0.35:
                return False
            return 0.2 < frac < 0.6 and (int(seg) % 4 != 3 or d < 160)
        return in_star(x, y)

    px = []
    for y in range(h):
        for x in range(w):
            c = coverage(inside, x, y)
            px.extend([red[0], red[1], red[2], int(round(c * 235))])
    write_png(path, w, h, px)


def signature(path):
    w, h = 600, 220
    blue = (20, 40, 140)
    pts = []
    for i in range(400):
        t = i / 399
        x = 40 + 520 * t
        y = 110 + 55 * math.sin(t * 9.5) * (1 - 0.6 * t) + 25 * math.sin(t * 31)
        pts.append((x, y))
    # A closing flourish under the name.
    for i in range(120):
        t = i / 119
        pts.append((520 - 420 * t, 170 + 12 * math.sin(t * 3.1)))
    width = 5.0
    grid = {}
    for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
        for gx in range(int(min(x1, x2) - width - 2), int(max(x1, x2) + width + 2)):
            for gy in range(int(min(y1, y2) - width - 2), int(max(y1, y2) + width + 2)):
                grid.setdefault((gx, gy), []).append((x1, y1, x2, y2))

    def dist_seg(px_, py_, s):
        x1, y1, x2, y2 = s
        dx, dy = x2 - x1, y2 - y1
        ll = dx * dx + dy * dy
        t = 0 if ll == 0 else max(0, min(1, ((px_ - x1) * dx + (py_ - y1) * dy) / ll))
        return math.hypot(px_ - (x1 + t * dx), py_ - (y1 + t * dy))

    px = []
    for y in range(h):
        for x in range(w):
            segs = grid.get((x, y))
            a = 0.0
            if segs:
                d = min(dist_seg(x + 0.5, y + 0.5, s) for s in segs)
                a = max(0.0, min(1.0, width / 2 + 0.5 - d))
            px.extend([blue[0], blue[1], blue[2], int(round(a * 255))])
    write_png(path, w, h, px)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "config", "appearance")
    os.makedirs(out, exist_ok=True)
    seal(os.path.join(out, "dev-seal.png"))
    signature(os.path.join(out, "dev-signature.png"))


if __name__ == "__main__":
    main()
