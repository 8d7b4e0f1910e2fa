"""python -m local_endpoint [--host H] [--port P] [--ready-file F]

Starts the local AWS endpoint. With --port 0 (the default) the OS picks a free
port; it is printed and, with --ready-file, written there once the server
listens, which is how LocalEndpoint waits for it.
"""

import argparse
import os
import sys

from .server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m local_endpoint", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    args = parser.parse_args(argv)

    def announce(port):
        print(f"local AWS endpoint listening on http://{args.host}:{port}", flush=True)
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(str(port))
            os.replace(tmp, args.ready_file)

    try:
        serve(args.host, args.port, on_ready=announce)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
