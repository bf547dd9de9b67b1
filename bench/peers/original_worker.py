#!/usr/bin/env python3
"""The original system's Batch worker, as its design describes it, for the blob benchmark.

Each task lists the whole input container, takes every N-th blob (round-robin by task index),
and for each one, one at a time: downloads it, converts it to PNG with Pillow, uploads the PNG.
The original ran one such task per node core; the benchmark starts one process per core.

usage: original_worker.py TASK_INDEX TASK_COUNT INPUT_CONTAINER OUTPUT_CONTAINER
       (credentials from AZURE_STORAGE_CONNECTION_STRING)
"""
import io
import json
import os
import sys
import time

from azure.storage.blob import BlobServiceClient, ContentSettings
from PIL import Image


def main() -> int:
    task_index, task_count = int(sys.argv[1]), int(sys.argv[2])
    input_container, output_container = sys.argv[3], sys.argv[4]
    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    source = service.get_container_client(input_container)
    target = service.get_container_client(output_container)

    started = time.monotonic()
    names = sorted(b.name for b in source.list_blobs() if b.name.lower().endswith((".jpg", ".jpeg")))
    mine = names[task_index::task_count]
    converted = failed = 0
    for name in mine:
        try:
            data = source.download_blob(name).readall()
            with Image.open(io.BytesIO(data)) as img:
                out = io.BytesIO()
                img.save(out, format="PNG")
            png_name = name.rsplit(".", 1)[0] + ".png"
            target.upload_blob(
                png_name,
                out.getvalue(),
                overwrite=True,
                content_settings=ContentSettings(content_type="image/png"),
            )
            converted += 1
        except Exception as err:  # the original logged and went on
            failed += 1
            print(f"failed {name}: {err}", file=sys.stderr)
    print(json.dumps({"task": task_index, "listed": len(names), "converted": converted, "failed": failed,
                      "seconds": round(time.monotonic() - started, 3)}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
