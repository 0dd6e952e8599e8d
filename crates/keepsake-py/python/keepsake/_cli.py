"""The ``git-keepsake`` and ``keepsake`` commands installed by pip: the same Rust command line as the binaries."""

import sys

from . import _core


def main():
    sys.exit(_core.cli_main(sys.argv))


def keepsake_main():
    """The ``keepsake`` command: Keepsake 0.4.2's command line, over the same code."""
    sys.exit(_core.keepsake_main(sys.argv))


if __name__ == "__main__":
    main()
