"""Sources and destinations of the layer functions.

A source or destination is a path (str or os.PathLike), an open file
descriptor (int, left open), or a binary file object. Paths are opened here
and handed to the extension as descriptors, which it reads and writes with
the GIL released; file objects are called chunk by chunk from the engine's
callbacks. A destination path is written as the CLI writes its output
(AtomicFileSink): into a hidden temporary file beside it (mode 0600 while
it is written), synced, made 0644 and renamed into place only when the
operation succeeded; on any error it is removed and the path is left as it
was. Such a destination is `private`: nothing reaches the path before
commit(). Devices and FIFOs (/dev/null, a named pipe) are written in place.
"""

import contextlib
import errno
import io
import os
import stat
import tempfile

from ._layercrypt import LayercryptIOError


def as_path(obj):
    """Returns obj as a str path if it is one (str or os.PathLike), else None."""
    if isinstance(obj, (str, os.PathLike)):
        return os.fsdecode(os.fspath(obj))
    return None


def io_error(err: OSError, path):
    """A LayercryptIOError (an OSError) for the OSError `err` about `path`."""
    return LayercryptIOError(err.errno, err.strerror, path)


def _check_file_object(obj, what, method):
    if isinstance(obj, int):
        return
    if isinstance(obj, io.TextIOBase):
        raise TypeError(f"{what} is a text file: open it in binary mode ('rb'/'wb')")
    if not hasattr(obj, method) and not (method == "read" and hasattr(obj, "readinto")):
        raise TypeError(f"{what} must be a path, a file descriptor, or a binary file object "
                        f"with {method}(); got {type(obj).__name__}")


@contextlib.contextmanager
def source(src):
    """Yields (stream, name) for the extension: a descriptor for a path
    (closed afterwards) and its name, else src itself and None."""
    path = as_path(src)
    if path is None:
        _check_file_object(src, "src", "read")
        yield src, None
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise io_error(e, path) from e
    try:
        yield fd, path
    finally:
        os.close(fd)


class _InPlace:
    """A destination written as it is: a file object, a descriptor, or a
    device/FIFO path (opened here, closed by close())."""

    private = False

    def __init__(self, target, name=None, owned=False):
        self.target, self.name, self._owned = target, name, owned

    def commit(self):
        pass

    def close(self):
        if self._owned:
            os.close(self.target)


class _AtomicFile:
    """A new file at `path` that appears complete or not at all."""

    private = True

    def __init__(self, path):
        directory, base = os.path.split(path)
        self.name, self.target, self._tmp = path, -1, None
        try:
            self.target, self._tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", dir=directory or ".")
        except OSError as e:
            raise io_error(e, path) from e

    def commit(self):
        try:
            os.fchmod(self.target, 0o644)
            os.fsync(self.target)
            fd, self.target = self.target, -1
            os.close(fd)
            os.replace(self._tmp, self.name)
            self._tmp = None
        except OSError as e:
            raise io_error(e, self.name) from e

    def close(self):
        """Closes the file and, unless committed, removes it."""
        if self.target >= 0:
            os.close(self.target)
            self.target = -1
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None


def _open_destination(dst):
    path = as_path(dst)
    if path is None:
        _check_file_object(dst, "dst", "write")
        return _InPlace(dst)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _AtomicFile(path)
    except OSError as e:
        raise io_error(e, path) from e
    if stat.S_ISDIR(st.st_mode):
        raise LayercryptIOError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if stat.S_ISREG(st.st_mode):
        return _AtomicFile(path)
    try:  # a device or a FIFO
        return _InPlace(os.open(path, os.O_WRONLY | os.O_CLOEXEC), path, owned=True)
    except OSError as e:
        raise io_error(e, path) from e


@contextlib.contextmanager
def destination(dst):
    """Yields an object with .target and .name for the extension, .private
    (nothing written to target reaches the destination before commit()),
    and .commit(), which the caller calls once the operation succeeded;
    without it the destination path is left as it was."""
    d = _open_destination(dst)
    try:
        yield d
    finally:
        d.close()
