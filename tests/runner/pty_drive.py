"""Runs a command on a pseudo-terminal and answers its `(y/N)` prompts, for the tests of the
`keepsake` command's prompts (tests/runner/keepsake_command.rs).

    python3 pty_drive.py '["maybe", "y"]' COMMAND [ARG...]

Each answer is typed (then Enter) once the next prompt has been shown; `null` types Ctrl-D
(end of input). Prints what the terminal showed, exits with the command's exit code.
"""

import json
import os
import pty
import select
import sys
import time

PROMPT = b"(y/N) "


def main():
    answers = json.loads(sys.argv[1])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    shown = b""

    def read(timeout):
        nonlocal shown
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        shown += data
        return bool(data)

    for answer in answers:
        seen = shown.count(PROMPT)
        deadline = time.time() + 30
        while shown.count(PROMPT) <= seen and time.time() < deadline:
            if not read(0.1):
                break
        os.write(fd, b"\x04" if answer is None else answer.encode() + b"\r")
    while read(30):
        pass
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(shown.decode(errors="replace"))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
