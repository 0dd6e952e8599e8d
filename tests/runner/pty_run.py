"""Runs a command with a pseudo-terminal (100 columns) as its stdin, stdout and stderr, as a
person's shell would; prints every byte it wrote, then exits with its exit code. The progress
tests drive `git keepsake` through it (the test harness's own streams are pipes)."""

import fcntl
import os
import pty
import struct
import sys
import termios

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])

out = bytearray()
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out))
sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(status))
