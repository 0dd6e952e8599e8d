"""Progress of long operations (waiting for uploads at ``stop()``, ``Checkpoint.checkout()``),
always through ``sys.stderr`` as it is when the bar starts, so notebooks and ``logging`` see it:
tqdm when it is installed, else one line rewritten with ``\\r`` on a terminal, else a plain line
now and then. The core counts the bytes; this only draws them (called by ``keepsake._core``).
"""

import sys
import time

# How often a plain line is written when stderr is not a terminal (a log, a pipe).
PLAIN_EVERY = 5.0
# How often the terminal line is redrawn.
LINE_EVERY = 0.1


def _human(n):
    """Bytes as the command line prints them (keepsake_core::text::human_size): 512 bytes, 1.2 GiB."""
    if n < 1024:
        return f"{int(n)} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024.0
        if value < 1024.0 or unit == "TiB":
            return f"{value:.1f} {unit}"


def _duration(seconds):
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except Exception:  # not installed, or broken: the plain display does
        return None
    return tqdm


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except Exception:
        return False


class Bar:
    """One phase: ``update(done, total)`` with absolute counts, then ``close()``."""

    def __init__(self, what, total, unit="B", delay=0.0):
        self.what = what
        # Nothing is drawn before `delay` seconds: a quick operation shows nothing.
        self.delay = delay
        self.drawn = False
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self.last = 0.0
        self.stream = sys.stderr
        self.tqdm = None
        tqdm = _tqdm()
        if tqdm is not None:
            bytes_ = unit == "B"
            self.tqdm = tqdm(
                total=total,
                desc=what,
                unit=unit if bytes_ else " items",
                unit_scale=bytes_,
                unit_divisor=1024,
                file=self.stream,
                leave=True,
                delay=delay,
            )
            return
        self.terminal = _isatty(self.stream)
        self._draw(time.monotonic())

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:
            pass

    def _amount(self, n):
        return _human(n) if self.unit == "B" else str(n)

    def _text(self, final=False):
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.what}:"]
        if final:
            parts.append(f"{self._amount(self.done)} in {_duration(elapsed)}")
        elif self.total:
            pct = min(100, int(self.done * 100 / self.total))
            parts.append(f"{pct:3d}% {self._amount(self.done)}/{self._amount(self.total)}")
        else:
            parts.append(self._amount(self.done))
        if self.unit == "B":
            parts.append(f"({_human(int(rate))}/s)" if final else f"{_human(int(rate))}/s")
        if not final and self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        return " ".join(parts)

    def update(self, done, total):
        grown = total is not None and total != self.total
        self.total = total
        step = done - self.done
        self.done = done
        if self.tqdm is not None:
            if grown:
                self.tqdm.total = total
                self.tqdm.refresh()
            if step > 0:
                self.tqdm.update(step)
            return
        self._draw(time.monotonic())

    def _draw(self, now):
        if now - self.started < self.delay:
            return
        if self.terminal:
            if not self.drawn or now - self.last >= LINE_EVERY:
                self._write("\r\x1b[K" + self._text())
            else:
                return
        elif not self.drawn or now - self.last >= PLAIN_EVERY:
            self._write(self._text() + "\n")
        else:
            return
        self.last = now
        self.drawn = True

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()
            return
        if not self.drawn:
            return
        if self.terminal:
            self._write("\r\x1b[K" + self._text(final=True) + "\n")
        else:
            self._write(self._text(final=True) + "\n")
