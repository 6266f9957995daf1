#!/usr/bin/env python3
"""ptyrun.py - run a command with its stderr (and stdout) on a pseudo-terminal.

Usage: ptyrun.py COLS OUTFILE CMD [ARG...]

The terminal is COLS columns wide; everything the command writes to it is
saved to OUTFILE byte for byte.  Standard input is /dev/null.  Exits with
the command's exit status (128 + N for a signal).
"""
import fcntl
import os
import pty
import struct
import sys
import termios


def main():
    cols, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    data = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    _, status = os.waitpid(pid, 0)
    with open(out, "wb") as f:
        f.write(data)
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
