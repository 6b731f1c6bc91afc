"""The container's HEALTHCHECK: python -m function.healthcheck (exit 0 healthy, 1 not).

The HTTP target is healthy when /health answers 200 (the model is loaded). The Pub/Sub
target has no GET route at all, so for it an accepted TCP connection is the signal.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    try:
        if os.environ.get("FUNCTION_TARGET", "predict_http") == "predict_http":
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as reply:
                return 0 if reply.status == 200 else 1
        with socket.create_connection(("127.0.0.1", port), timeout=4):
            return 0
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
