"""Console output a person reads; the full record stays in the log file.

mmengine's runner prints the whole environment report, the whole config (600+
lines for a detector), the hook table, up to four lines per parameter that a
``paramwise_cfg`` key sets (thousands for Mask2Former's recipes), and
pycocotools prints its progress
chatter and two 12-line AP/AR tables per evaluation. :func:`summarise_console`
keeps one line for each of those on the console and sends the full text to
the run's log file (``WORK_DIR/<timestamp>/<timestamp>.log``), where mmengine
writes it anyway, and drops mmengine's notes about its own internals.
Warnings and errors are never filtered.
"""
from __future__ import annotations

import io
import logging
import os
import re
import sys
from typing import Optional, TextIO

#: mmengine log records about mmengine's own internals (deprecated file
#: client, metrics configured without a key prefix)
_LIBRARY_RECORDS = re.compile(r'^("(FileClient|HardDiskBackend)" (will be deprecated|is the '
                              r'alias)|The prefix is not set in metric class)')
#: what pycocotools prints while loading annotations and evaluating
_COCO_CHATTER = re.compile(
    r'^(loading annotations into memory\.\.\.|Done \(t=[\d.]+s\)|creating index\.\.\.'
    r'|index created!|Loading and preparing results\.\.\.|DONE \(t=[\d.]+s\)\.?'
    r'|Running per image evaluation\.\.\.|Evaluate annotation type \*\w+\*'
    r'|Accumulating evaluation results\.\.\.| Average (Precision|Recall) .*)$')


class _LibraryRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _LIBRARY_RECORDS.match(str(record.msg))


def _environment_line(text: str) -> str:
    fields = []
    for label in ('Python', 'PyTorch', 'CUDA available', 'MMEngine', 'seed',
                  'Distributed training', 'GPU number'):
        found = re.search(rf'^\s*{label}: (.*)$', text, re.M)
        if found:
            fields.append(f'{label}: {found[1].split(" (")[0].strip()}')
    return 'environment: ' + ', '.join(fields)


#: a per-class table with more rows goes to the log file only
MAX_CLASS_ROWS = 20


class _ConsoleSummary(logging.Filter):
    """On the console handler: replaces the runner's long reports by one
    line each and leaves the evaluation details to the log file."""

    def __init__(self, handler: logging.Handler, log_file: str) -> None:
        super().__init__()
        self.handler, self.log_file = handler, log_file
        self.paramwise_said = False

    def _short(self, text: str) -> Optional[str]:
        if text.startswith('paramwise_options -- '):  # the first one stands for all
            said, self.paramwise_said = self.paramwise_said, True
            return '' if said else f'parameter-wise lr / weight decay: in {self.log_file}'
        if 'System environment:' in text:
            return f'{_environment_line(text)} (full report in {self.log_file})'
        if text.startswith('Config:'):
            return f'config: full text in {self.log_file}'
        if text.startswith('Hooks will be executed'):
            return ''
        if re.match(r'^(Evaluating (bbox|segm|proposal_fast|proposal)\.\.\.'
                    r'|\w+_mAP_copypaste: |per class results:$)', text):
            return ''
        if text.startswith('\n+-') and re.search(r'\|\s+Class\s+\|', text):  # mmseg's
            rows = text.count('\n') - 4
            if rows > MAX_CLASS_ROWS:
                return f'per-class results ({rows} classes): in {self.log_file}'
            return 'per-class results:' + text
        return None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        short = self._short(record.getMessage())
        if short is None:
            return True
        if short:
            line = logging.makeLogRecord(dict(record.__dict__, msg=short, args=None))
            self.handler.handle(line)
        return False


class _DivertLines(io.TextIOBase):
    """``sys.stdout`` with the lines matching ``pattern`` moved to ``log``."""

    def __init__(self, console: TextIO, log: TextIO, pattern: re.Pattern) -> None:
        self.console, self.log, self.pattern, self._line = console, log, pattern, ''

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._line += text
        while '\n' in self._line:
            line, self._line = self._line.split('\n', 1)
            if not self.pattern.match(line):
                self.console.write(line + '\n')
            elif not self.log.closed:  # after the run, chatter is dropped
                self.log.write(line + '\n')
        return len(text)

    def flush(self) -> None:
        if self._line and not self.pattern.match(self._line):
            self.console.write(self._line)
            self._line = ''
        self.console.flush()
        if not self.log.closed:
            self.log.flush()

    def fileno(self) -> int:
        return self.console.fileno()

    def isatty(self) -> bool:
        return self.console.isatty()


def quiet_library_records(logger: logging.Logger) -> None:
    """Drop mmengine's notes about its own internals from ``logger``."""
    logger.addFilter(_LibraryRecords())


def summarise_console(logger: logging.Logger) -> None:
    """Shorten what ``logger`` (a runner's) and pycocotools print on the
    console; the log file keeps everything."""
    quiet_library_records(logger)
    files = [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    if files:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.addFilter(_ConsoleSummary(handler, files[0].baseFilename))
    if not isinstance(sys.stdout, _DivertLines):  # other ranks: no log file, no chatter
        sink = files[0].stream if files else open(os.devnull, 'w')
        sys.stdout = _DivertLines(sys.stdout, sink, _COCO_CHATTER)
