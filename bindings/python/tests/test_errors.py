"""Bad input raises the typed exceptions, and failures leave no output:
tampered blobs, wrong keys and passwords, malformed descriptors, file
objects that raise or misbehave, bad arguments."""

import errno
import io
import os

import pytest

import layercrypt
from helpers import TAR, key, password

RSA = key("rsa2048.pub.pem")


@pytest.fixture(scope="module")
def layer(plain_layers):
    """An encrypted 169 KB tar+gzip layer: (descriptor, blob)."""
    _, path = plain_layers[0]
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(path, enc, RSA)
    return desc, enc.getvalue()


def test_exception_classes():
    classes = {
        layercrypt.InvalidArgumentError: "LC_ERR_INVALID_ARGUMENT",
        layercrypt.DataError: "LC_ERR_DATA",
        layercrypt.IntegrityError: "LC_ERR_INTEGRITY",
        layercrypt.KeyUnavailableError: "LC_ERR_KEY",
        layercrypt.UnsupportedError: "LC_ERR_UNSUPPORTED",
        layercrypt.LayercryptIOError: "LC_ERR_IO",
        layercrypt.CallbackError: "LC_ERR_CALLBACK",
        layercrypt.InternalError: "LC_ERR_INTERNAL",
    }
    for cls, name in classes.items():
        assert issubclass(cls, layercrypt.LayercryptError)
        assert cls.status_name == name
        assert cls.__module__ == "layercrypt"
    assert sorted(c.status for c in classes) == list(range(1, 9))
    assert issubclass(layercrypt.InvalidArgumentError, ValueError)
    assert issubclass(layercrypt.LayercryptIOError, OSError)
    assert not hasattr(layercrypt, "KeyError") and not hasattr(layercrypt, "IOError")


def test_tampered_blob_writes_nothing(tmp_path, layer):
    desc, blob = layer
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 1
    src = tmp_path / "bad.enc"
    src.write_bytes(bad)
    dst = tmp_path / "out"
    with pytest.raises(layercrypt.IntegrityError, match="HMAC"):
        layercrypt.decrypt_layer(src, dst, desc, key("rsa2048.pem"))
    assert not dst.exists()
    # An existing destination is left as it was, and no temporary remains.
    dst.write_bytes(b"keep me")
    for stream in (False, True):
        with pytest.raises(layercrypt.IntegrityError):
            layercrypt.decrypt_layer(src, dst, desc, key("rsa2048.pem"), stream=stream)
        assert dst.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["bad.enc", "out"]
    # A file object receives nothing either (unless it asked for streaming).
    out = io.BytesIO()
    with pytest.raises(layercrypt.IntegrityError):
        layercrypt.decrypt_layer(io.BytesIO(bad), out, desc, key("rsa2048.pem"), decompress=True)
    assert out.getvalue() == b""
    # Truncated and extended blobs fail the same way.
    for wrong in (blob[:-1], blob + b"\0"):
        out = io.BytesIO()
        with pytest.raises(layercrypt.IntegrityError):
            layercrypt.decrypt_layer(io.BytesIO(wrong), out, desc, key("rsa2048.pem"))
        assert out.getvalue() == b""


def test_wrong_keys(tmp_path, layer):
    desc, blob = layer
    dst = tmp_path / "out"
    with pytest.raises(layercrypt.KeyUnavailableError, match="jwe") as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), dst, desc, key("ecp256.pem"))
    assert e.value.status_name == "LC_ERR_KEY"
    assert not dst.exists()
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.check_layer_keys(desc, [key("ecp384.pem"), key("rsa4096.pem")])
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.add_recipients(desc, key("ecp256.pem"), key("ecp256.pub.pem"))
    # Passwords: none, a wrong one; a directory takes none.
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.Keys(key("rsa2048.enc.pem"))
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.Keys(layercrypt.Key(key("rsa2048.enc.pem"), "wrong"))
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.Keys(layercrypt.Key(key("dirs/rsa2048"), password()))


def test_bad_keys_and_recipients():
    with pytest.raises(layercrypt.InvalidArgumentError, match="public key"):
        layercrypt.Keys(key("rsa2048.pub.pem"))
    with pytest.raises(layercrypt.LayercryptError):
        layercrypt.Keys(b"not a key")
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.Keys("/nonexistent/key.pem")
    assert "/nonexistent/key.pem" in str(e.value)
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.Keys([])
    with pytest.raises(TypeError):
        layercrypt.Keys(42)
    src = io.BytesIO(b"\0" * 1024)
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.encrypt_layer(src, io.BytesIO(), key("rsa2048.pem"))  # a private key
    with pytest.raises(layercrypt.UnsupportedError):
        layercrypt.encrypt_layer(src, io.BytesIO(), "openpgp:someone")
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.encrypt_layer(src, io.BytesIO(), [])
    for compression in ("gzip:9", "brotli"):
        with pytest.raises(layercrypt.InvalidArgumentError):
            layercrypt.encrypt_layer(src, io.BytesIO(), RSA, compression=compression)
    with pytest.raises(TypeError):
        layercrypt.encrypt_layer(src, io.BytesIO(), b"jwe:key.pem")


def test_input_that_is_no_layer(tmp_path, tar_layer):
    out = tmp_path / "out"
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.encrypt_layer(io.BytesIO(b""), out, RSA)
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.encrypt_layer(io.BytesIO(tar_layer[0]), out, RSA, media_type=TAR + "+gzip")
    with pytest.raises(layercrypt.LayercryptError):
        layercrypt.encrypt_layer(io.BytesIO(tar_layer[0]), out, RSA, media_type=TAR + "+encrypted")
    assert not out.exists()


# layercrypt.h documents LC_ERR_DATA for a descriptor that lacks the
# ocicrypt annotations; liblayercrypt 0.1.0 returns LC_ERR_INVALID_ARGUMENT.
NO_ANNOTATIONS = (layercrypt.DataError, layercrypt.InvalidArgumentError)


@pytest.mark.parametrize("bad,error", [
    ("", layercrypt.DataError), ("{", layercrypt.DataError), ("[]", layercrypt.DataError),
    ('{"annotations":{"x":1}}', layercrypt.DataError), (b"\xff\xfe", layercrypt.DataError),
    ("{}\0", layercrypt.DataError), ('{"mediaType":"' + TAR + '+encrypted"}', NO_ANNOTATIONS),
])
def test_malformed_descriptors(layer, bad, error):
    _, blob = layer
    out = io.BytesIO()
    with pytest.raises(error) as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), out, bad, key("rsa2048.pem"))
    assert "\n" not in str(e.value)
    assert out.getvalue() == b""
    with pytest.raises(error):
        layercrypt.check_layer_keys(bad, key("rsa2048.pem"))


def test_descriptor_of_the_wrong_type(layer):
    desc, blob = layer
    with pytest.raises(TypeError):
        layercrypt.decrypt_layer(io.BytesIO(blob), io.BytesIO(), 42, key("rsa2048.pem"))
    plain = dict(desc, mediaType=TAR)  # not an encrypted type
    with pytest.raises(layercrypt.LayercryptError):
        layercrypt.decrypt_layer(io.BytesIO(blob), io.BytesIO(), plain, key("rsa2048.pem"))


class Boom(Exception):
    pass


class FailingReader(io.RawIOBase):
    """readinto() raises once `fail_after` bytes were read."""

    def __init__(self, data, fail_after, exc=Boom("disk on fire")):
        self.data, self.pos, self.fail_after, self.exc = data, 0, fail_after, exc

    def readable(self):
        return True

    def readinto(self, b):
        if self.pos >= self.fail_after:
            raise self.exc
        n = min(len(b), len(self.data) - self.pos, self.fail_after - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def test_reader_that_raises(tmp_path, layer, plain_layers):
    desc, blob = layer
    dst = tmp_path / "out"
    with pytest.raises(layercrypt.CallbackError, match="reader callback") as e:
        layercrypt.decrypt_layer(FailingReader(blob, len(blob) // 2), dst, desc, key("rsa2048.pem"))
    assert isinstance(e.value.__cause__, Boom)
    assert str(e.value.__cause__) == "disk on fire"
    assert e.value.__cause__.__traceback__ is not None  # where it was raised
    assert "disk on fire" in str(e.value)
    assert not dst.exists()
    # Encrypting: the same, and the partial blob is not left behind.
    enc = tmp_path / "enc"
    with pytest.raises(layercrypt.CallbackError) as e:
        layercrypt.encrypt_layer(FailingReader(plain_layers[0][1].read_bytes(), 70000,
                                               OSError(errno.EIO, "bad sector")), enc, RSA)
    assert isinstance(e.value.__cause__, OSError)
    assert not enc.exists()


def test_writer_that_raises(layer):
    desc, blob = layer

    class FailingWriter:
        def __init__(self):
            self.got = 0

        def write(self, b):
            if self.got > 1000:
                raise Boom("quota")
            self.got += len(b)
            return len(b)

    with pytest.raises(layercrypt.CallbackError, match="writer callback") as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), FailingWriter(), desc, key("rsa2048.pem"), stream=True)
    assert isinstance(e.value.__cause__, Boom)


def test_file_objects_that_misbehave(layer):
    desc, blob = layer
    k = layercrypt.Keys(key("rsa2048.pem"))

    class Liar:
        def read(self, n):
            return b"x" * (n + 1)

    class Text:
        def read(self, n):
            return "text"

    class Counting:
        def write(self, b):
            return "all of it"

    class Overcounting:
        def write(self, b):
            return len(b) + 1

    for src, dst, cause in ((Liar(), io.BytesIO(), ValueError), (Text(), io.BytesIO(), TypeError),
                            (io.BytesIO(blob), Counting(), TypeError),
                            (io.BytesIO(blob), Overcounting(), ValueError)):
        with pytest.raises(layercrypt.CallbackError) as e:
            layercrypt.decrypt_layer(src, dst, desc, k)
        assert isinstance(e.value.__cause__, cause), (src, dst, e.value.__cause__)
    with pytest.raises(TypeError, match="text"):
        layercrypt.decrypt_layer(io.StringIO("x"), io.BytesIO(), desc, k)
    with pytest.raises(TypeError, match="binary file object"):
        layercrypt.decrypt_layer(object(), io.BytesIO(), desc, k)
    with pytest.raises(TypeError, match="write"):
        layercrypt.decrypt_layer(io.BytesIO(blob), object(), desc, k)


def test_keyboard_interrupt_is_not_wrapped(layer):
    desc, blob = layer
    with pytest.raises(KeyboardInterrupt):
        layercrypt.decrypt_layer(FailingReader(blob, 1000, KeyboardInterrupt()), io.BytesIO(), desc,
                                 key("rsa2048.pem"))


def test_paths_that_fail(tmp_path, layer):
    desc, blob = layer
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.decrypt_layer(tmp_path / "missing", io.BytesIO(), desc, key("rsa2048.pem"))
    assert e.value.errno == errno.ENOENT
    assert e.value.filename == str(tmp_path / "missing")
    assert isinstance(e.value, FileNotFoundError) is False and isinstance(e.value, OSError)
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), tmp_path / "no" / "dir" / "out", desc, key("rsa2048.pem"))
    assert e.value.errno == errno.ENOENT
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), tmp_path, desc, key("rsa2048.pem"))
    assert e.value.errno == errno.EISDIR
    # A descriptor that cannot be read: EBADF from the engine's read.
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.decrypt_layer(io.BytesIO(blob), 1 << 20, desc, key("rsa2048.pem"), stream=True)
    assert e.value.errno == errno.EBADF


def test_images_that_fail(tmp_path):
    with pytest.raises(layercrypt.LayercryptIOError):
        layercrypt.layer_info("oci:/nonexistent/image:v1")
    with pytest.raises(layercrypt.LayercryptError):
        layercrypt.encrypt_image("oci:/nonexistent/image:v1", f"oci:{tmp_path}/x:v1", RSA)
    assert not (tmp_path / "x").exists()
    with pytest.raises(TypeError):
        layercrypt.layer_info(None)
