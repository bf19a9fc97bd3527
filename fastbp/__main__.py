import sys

from fastbp.cli import main

if __name__ == "__main__":  # worker processes started by spawn import this module without running it
    sys.exit(main())
