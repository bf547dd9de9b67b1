"""Pillow peer for `npm run bench`: what the original worker did per image (open, save as PNG
with Pillow's defaults), one process per core, files dealt out round-robin as it did.

usage: python3 pillow_convert.py WORKERS LIST_FILE   (LIST_FILE: one "source<TAB>destination" a line)
"""
import os
import sys

from PIL import Image


def convert(pairs):
    for source, destination in pairs:
        with Image.open(source) as image:
            image.save(destination, "PNG")


def main():
    workers = int(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                convert(pairs[index::workers])
                os._exit(0)
            except Exception as err:  # report and fail the run: the benchmark checks every output
                print(f"pillow worker {index}: {err}", file=sys.stderr)
                os._exit(1)
        children.append(pid)
    failed = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
