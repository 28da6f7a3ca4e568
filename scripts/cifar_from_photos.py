#!/usr/bin/env python3
"""Writes CIFAR-10-format binary files (data_batch_1..5.bin, test_batch.bin: per image 1 label byte then
3072 bytes, the R, G and B planes of 32×32) made of 32×32 patches of the shipped photographs
(target/data/photos/*.png), so that the documented CIFAR-10 command can be exercised end to end where no copy
of CIFAR-10 exists. Patches come from seeded places; the label is the photograph's index (sorted by name)
mod 10; grey photographs are replicated to the three planes. These are not CIFAR-10: accuracies on them mean
nothing beyond "the pipeline runs".

Standard library only (the PNG decoder below handles the shipped 8-bit grey/RGB/RGBA non-interlaced files),
so it runs on a fresh machine before any venv exists.

Usage: cifar_from_photos.py OUT_DIR [--train N] [--test N] [--seed S] [--photos DIR]
"""
import argparse
import os
import random
import struct
import zlib


def read_png(path):
    """(width, height, channels, bytes) of an 8-bit non-interlaced PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: only 8-bit non-interlaced grey/RGB/RGBA PNGs are handled")
    raw = zlib.decompress(b"".join(idat))
    stride = w * channels
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return w, h, channels, bytes(out)


def planes(photo):
    """The photograph as three full-size planes (R, G, B); grey is replicated, alpha dropped."""
    w, h, ch, px = photo
    if ch <= 2:
        grey = px[::ch]
        return w, h, (grey, grey, grey)
    return w, h, (px[0::ch], px[1::ch], px[2::ch])


def record(rng, label, photo):
    w, h, rgb = photo
    x0, y0 = rng.randrange(w - 31), rng.randrange(h - 31)
    out = bytearray([label])
    for plane in rgb:
        for y in range(y0, y0 + 32):
            out += plane[y * w + x0 : y * w + x0 + 32]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=2000, help="training images over the 5 batches")
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--photos", default="target/data/photos")
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.photos) if n.endswith(".png"))
    photos = [planes(read_png(os.path.join(args.photos, n))) for n in names]
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    per = [args.train // 5 + (1 if k < args.train % 5 else 0) for k in range(5)]
    files = [(f"data_batch_{k + 1}.bin", per[k]) for k in range(5)] + [("test_batch.bin", args.test)]
    for name, count in files:
        with open(os.path.join(args.out, name), "wb") as f:
            for i in range(count):
                which = rng.randrange(len(photos))
                f.write(record(rng, which % 10, photos[which]))
    print(f"{args.out}: {args.train} training and {args.test} test images from {len(names)} photographs")


if __name__ == "__main__":
    main()
