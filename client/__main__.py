import sys

from client.cli import main
from client.memory import reuse_large_buffers

reuse_large_buffers()  # this process is the CLI's own: pixels prepared without page faults (client.memory)
sys.exit(main())
