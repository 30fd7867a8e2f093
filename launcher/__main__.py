import sys

from launcher.supervise import main

if __name__ == "__main__":
    sys.exit(main())
