"""Stand-in for the get-pip bootstrap script ansible-test downloads.

ansible-test (`sanity --requirements`) bootstraps pip in each virtual
environment it makes by running a get-pip script it fetches from a host this
project's machines cannot reach; it uses a cached copy when one exists. The
Makefile installs this file as that cached copy: it makes pip with the
interpreter's own ensurepip, then installs what ansible-test asked for.
"""

import subprocess
import sys

# get-pip understands these; plain pip does not, and they only say "do not add
# setuptools/wheel", which ensurepip + pip install do not add anyway.
_GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY]
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main()
