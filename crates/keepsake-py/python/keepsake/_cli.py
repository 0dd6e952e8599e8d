"""The ``git-keepsake`` command installed by pip: the same Rust command line as the binary."""

import sys

from . import _core


def main():
    sys.exit(_core.cli_main(sys.argv))


if __name__ == "__main__":
    main()
