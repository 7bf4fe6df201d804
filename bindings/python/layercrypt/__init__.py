"""layercrypt: encrypt and decrypt OCI image layers in the ocicrypt format.

Byte-compatible with Go's containers/ocicrypt (skopeo, buildah, ctr-enc,
containerd's decoders). A binding of liblayercrypt's C API
(bindings/c/layercrypt.h); the engine runs with the GIL released.

One layer:
    desc = layercrypt.encrypt_layer("layer.tar", "layer.enc", ["jwe:node.pub.pem"],
                                    compression="gzip")
    layercrypt.decrypt_layer("layer.enc", "layer.tar.gz", desc, keys="node.pem")

Whole images ("oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "PATH[:TAG]"):
    layercrypt.encrypt_image("oci:app:v1", "oci:app-enc:v1", ["jwe:node.pub.pem"])
    layercrypt.decrypt_image("oci:app-enc:v1", "oci:app-plain:v1", keys="node.pem")

Sources and destinations of the layer functions are paths, open file
descriptors (int; left open) or binary file objects (read()/readinto(),
write()), streamed in chunks. A destination path appears only once the
operation succeeded (see layercrypt/_files.py).

Recipients are spelled as the CLI and skopeo spell them: "jwe:FILE" (a
public key: PEM, DER or JWK), "pkcs7:FILE" (an X.509 certificate),
"pkcs11:FILE" (a PKCS#11 key YAML, or an RSA public key),
"pgp:NAME_OR_EMAIL" (looked up in the OpenPGP public keyring gpg_pubring
names), or a path (the scheme its content selects). Keys for decryption are
given as a key file path, a directory of keys (searched recursively, as
containerd's --decryption-keys-path), key bytes (PEM, DER, JWK, an OpenPGP
secret keyring), Key(source, password) for an encrypted key or a
passphrase-protected keyring, a Keys object, or a list of these. For pkcs7,
give the private key and the certificate. A PKCS#11 key YAML (a file, bytes,
or in a keys directory) is a key whose private half stays in its token.

pgp recipients are matched as Go ocicrypt matches them: a recipient equals
the name or the email address of a user id of a key in the keyring
gpg_pubring names (binary, as `gpg --export` writes it, or armored), and
every recipient must match a key (docs/pgp.md).

PKCS#11 modules are loaded only if the module policy allows them: the
pkcs11_config argument ("internal" for the built-in policy, or an ocicrypt
config file with a pkcs11 section), else OCICRYPT_CONFIG's, as Go ocicrypt
finds it (docs/pkcs11.md).

Errors are LayercryptError subclasses, one per lc_status: InvalidArgumentError
(also a ValueError), DataError, IntegrityError, KeyUnavailableError,
UnsupportedError, LayercryptIOError (also an OSError), CallbackError (its
__cause__ is what a file object raised) and InternalError.
"""

import json as _json
import os as _os

from . import _layercrypt as _lc
from ._files import as_path as _as_path
from ._files import destination as _destination
from ._files import source as _source
from ._layercrypt import (CallbackError, DataError, IntegrityError, InternalError,
                          InvalidArgumentError, KeyUnavailableError, LayercryptError,
                          LayercryptIOError, UnsupportedError)

__version__ = _lc.version()
API_VERSION = _lc.API_VERSION  # the C API version (major, minor) this module was built for

__all__ = [
    "encrypt_layer", "decrypt_layer", "encrypt_image", "decrypt_image", "layer_info",
    "add_recipients", "check_layer_keys", "cpu_paths", "Key", "Keys",
    "LayercryptError", "InvalidArgumentError", "DataError", "IntegrityError",
    "KeyUnavailableError", "UnsupportedError", "LayercryptIOError", "CallbackError",
    "InternalError",
]

_BYTES = (bytes, bytearray, memoryview)


def cpu_paths():
    """The CPU code paths in use (AES-CTR, HMAC-SHA256, SHA-256, deflate,
    CRC), one string each; constant for the process."""
    return _lc.cpu_paths().splitlines()


class Key:
    """One decryption key with its password: Key(source, password).

    source is a key file path or the key's bytes (PEM, DER, JWK, or an
    OpenPGP secret keyring, binary or armored); password (str or bytes)
    opens an encrypted key or the keyring's protected keys."""

    __slots__ = ("source", "password")

    def __init__(self, source, password=None):
        if password is not None and not isinstance(password, (str,) + _BYTES):
            raise TypeError(f"password must be str or bytes, not {type(password).__name__}")
        self.source, self.password = source, password

    def __repr__(self):
        src = f"<{len(self.source)} bytes>" if isinstance(self.source, _BYTES) else repr(self.source)
        return f"Key({src}, password={'None' if self.password is None else '***'})"


def _items(spec, what, scalars):
    """spec as a list: one item if it is a scalar, else its elements."""
    if isinstance(spec, scalars):
        return [spec]
    try:
        return list(spec)
    except TypeError:
        raise TypeError(f"{what}: expected {' or '.join(t.__name__ for t in scalars)} "
                        f"or a list of them, not {type(spec).__name__}") from None


class Keys:
    """Decryption keys, read and parsed once: pass one to several calls to
    save parsing them again. keys is a key spec or a list of them (see the
    module's documentation). A Keys does not change after it is made and may
    be used by any number of threads at once. pkcs11_config: the module
    policy for PKCS#11 key YAMLs (see the module's documentation).

    Raises KeyUnavailableError for a wrong or missing password (or a keys
    directory without a usable key), DataError for a file that holds no key,
    InvalidArgumentError for a public key, LayercryptIOError if a file
    cannot be read."""

    def __init__(self, keys, pkcs11_config=None):
        self._config = _lc.DecryptConfig()
        if pkcs11_config is not None:  # before any key YAML is added
            self._config.set_pkcs11_config(_os.fspath(pkcs11_config))
        items = _items(keys, "keys", (str, _os.PathLike, Key) + _BYTES)
        if not items:
            raise InvalidArgumentError("no keys given")
        for item in items:
            self._add(item)

    def _add(self, item):
        password = None
        if isinstance(item, Key):
            item, password = item.source, item.password
        if isinstance(item, str) and item.startswith("provider:"):
            if password is not None:
                raise InvalidArgumentError("a provider key takes no password")
            self._config.add_provider(item)  # the providers of OCICRYPT_KEYPROVIDER_CONFIG
            return
        if isinstance(item, _BYTES):
            if isinstance(password, str):
                password = password.encode()
            self._config.add_key(item, password)
            return
        path = _as_path(item)
        if path is None:
            raise TypeError(f"a key is a path, bytes or a Key, not {type(item).__name__}")
        if _os.path.isdir(path):
            if password is not None:
                raise InvalidArgumentError(f"{path} is a directory of keys: it takes no password")
            self._config.add_keys_dir(path)
        else:
            if isinstance(password, (bytearray, memoryview)):
                password = bytes(password)
            self._config.add_key_file(path, password)


def _keys(keys):
    return keys._config if isinstance(keys, Keys) else Keys(keys)._config


def _encrypt_config(recipients, compression=None, pkcs11_config=None, gpg_pubring=None):
    config = _lc.EncryptConfig()
    if pkcs11_config is not None:  # before any pkcs11 recipient is added
        config.set_pkcs11_config(_os.fspath(pkcs11_config))
    if gpg_pubring is not None:  # before any pgp recipient is looked up
        config.set_gpg_pubring(_os.fspath(gpg_pubring))
    items = _items(recipients, "recipients", (str, _os.PathLike))
    if not items:
        raise InvalidArgumentError("no recipients given")
    for r in items:
        spelled = _as_path(r)
        if spelled is None:
            raise TypeError("a recipient is 'jwe:FILE', 'pkcs7:FILE', 'pkcs11:FILE', "
                            f"'pgp:NAME_OR_EMAIL' or a path, not {type(r).__name__}")
        if gpg_pubring is None and spelled.startswith("pgp:"):
            raise KeyUnavailableError(
                f"recipient {spelled}: pgp recipients are looked up in an OpenPGP public keyring; "
                "pass gpg_pubring=PATH (a keyring file, e.g. what `gpg --export` writes)")
        config.add_recipient(spelled)
    if compression is not None:
        config.set_compression(compression)
    return config


def _descriptor_json(descriptor):
    """The descriptor as the JSON text the C API takes: a dict (a diff_id
    key, as encrypt_layer returns, is left out), or JSON as str or bytes."""
    if isinstance(descriptor, dict):
        return _json.dumps({k: v for k, v in descriptor.items() if k != "diff_id"})
    if isinstance(descriptor, _BYTES):
        try:
            descriptor = bytes(descriptor).decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"descriptor: not UTF-8 JSON ({e})") from None
    if not isinstance(descriptor, str):
        raise TypeError(f"descriptor must be a dict or JSON text, not {type(descriptor).__name__}")
    if "\0" in descriptor:
        raise DataError("descriptor: JSON text with a NUL character")
    return descriptor


def _image_name(image, what):
    name = _as_path(image)
    if name is None:
        raise TypeError(f"{what} must be an image name (str) or a path, not {type(image).__name__}")
    return name


def encrypt_layer(src, dst, recipients, media_type=None, compression=None, pkcs11_config=None,
                  gpg_pubring=None):
    """Encrypts one layer blob (a tar, tar+gzip or tar+zstd) from src to dst
    for recipients, under a fresh key.

    media_type is the input's OCI or Docker layer type (default: what its
    first bytes are). compression ("gzip", "gzip:LEVEL" 0-3, "zstd",
    "zstd:LEVEL" 1-19, "none") compresses an uncompressed tar on the way;
    compressed input is encrypted as it is. pkcs11_config: the module policy
    for pkcs11 recipients (see the module's documentation). gpg_pubring: the
    OpenPGP public keyring file pgp:NAME recipients are looked up in
    (needed for them; binary or armored).

    Returns the descriptor for the manifest: {"mediaType", "digest", "size",
    "annotations"} plus "diff_id", the tar's digest for the image config
    (None for compressed input, which is not decompressed).

    Raises InvalidArgumentError (input that is no layer, a bad media type or
    compression, a private key as a recipient), UnsupportedError (an unknown
    scheme), KeyUnavailableError (a pgp recipient without gpg_pubring, or
    one no key of it matches), LayercryptIOError, CallbackError. On error a
    dst path is left as it was; a file object may have received part of a
    blob."""
    config = _encrypt_config(recipients, compression, pkcs11_config, gpg_pubring)
    with _source(src) as (s, s_name), _destination(dst) as d:
        desc_json, diff_id = _lc.encrypt_layer(config, media_type, s, d.target, s_name, d.name)
        d.commit()
    desc = _json.loads(desc_json)
    desc["diff_id"] = diff_id or None
    return desc


def decrypt_layer(src, dst, descriptor, keys, stream=False, decompress=False):
    """Decrypts the encrypted layer blob src, described by descriptor (its
    manifest entry: a dict, as encrypt_layer returns, or JSON), to dst.

    By default nothing is written to dst before the layer's HMAC over the
    whole blob has verified: a dst path appears only then (the blob is
    decrypted in one pass into a private temporary file beside it), and a
    file object, descriptor or device receives its first byte only then
    (the ciphertext is spooled to $TMPDIR first). stream=True writes
    plaintext as it is decrypted (one pass, as Go's ocicrypt does): the
    HMAC verdict comes at the end, after unverified bytes reached a file
    object (a dst path is still removed on failure). decompress=True writes
    the layer's tar instead of its gzip/zstd blob, inflated from verified
    bytes only unless stream=True.

    Returns the plaintext's descriptor: {"mediaType", "digest", "size"}.

    Raises KeyUnavailableError (no key opens it; the message lists the
    layer's recipients), IntegrityError (the HMAC failed: tampered or
    corrupt), DataError (a descriptor that does not parse or lacks the
    ocicrypt annotations), LayercryptIOError, CallbackError."""
    config = _keys(keys)
    desc = _descriptor_json(descriptor)
    with _source(src) as (s, s_name), _destination(dst) as d:
        # A destination path is a private temporary file until commit(): the
        # blob is decrypted into it in one pass (no spool of the ciphertext)
        # and appears at dst only once the HMAC has verified. The tar
        # (decompress) is still made from verified bytes only.
        one_pass = stream or (d.private and not decompress)
        flags = (_lc.DECRYPT_STREAM if one_pass else 0) | (_lc.DECRYPT_DECOMPRESS if decompress else 0)
        plain = _lc.decrypt_layer(config, desc, s, d.target, flags, s_name, d.name)
        d.commit()
    return _json.loads(plain)


def check_layer_keys(descriptor, keys):
    """Returns None if keys unwrap the layer key of descriptor (reading no
    blob); raises KeyUnavailableError if none does, DataError for a
    descriptor without the ocicrypt annotations."""
    _lc.check_layer_keys(_keys(keys), _descriptor_json(descriptor))


def add_recipients(descriptor, keys, recipients, gpg_pubring=None, pkcs11_config=None):
    """Unwraps the layer key of descriptor with keys and wraps it for
    recipients too; returns the descriptor with the new annotations (the
    blob, its digest and size do not change; a diff_id key is kept).
    gpg_pubring as for encrypt_layer; pkcs11_config is the module policy for
    pkcs11 recipients and for key YAMLs among keys (a Keys keeps its own).
    Raises KeyUnavailableError if no key opens the layer."""
    config = _encrypt_config(recipients, pkcs11_config=pkcs11_config, gpg_pubring=gpg_pubring)
    if not isinstance(keys, Keys):
        keys = Keys(keys, pkcs11_config=pkcs11_config)
    new = _json.loads(_lc.add_recipients(keys._config, config, _descriptor_json(descriptor)))
    if isinstance(descriptor, dict) and "diff_id" in descriptor:
        new["diff_id"] = descriptor["diff_id"]
    return new


def encrypt_image(src, dst, recipients, compression=None, pkcs11_config=None, gpg_pubring=None):
    """Encrypts every layer of the image src into dst ("oci:DIR[:TAG]",
    "oci-archive:FILE[:TAG]" or "PATH[:TAG]"; dst is written whole and
    published atomically, may equal src). compression, pkcs11_config and
    gpg_pubring as for encrypt_layer.
    Returns the report as `layercrypt encrypt --json` prints it: {"layers":
    [{"index", "platform", "action", "from", "to", "bytes", ...}, ...],
    "warnings": [...], ...}."""
    config = _encrypt_config(recipients, compression, pkcs11_config, gpg_pubring)
    return _json.loads(_lc.encrypt_image(config, _image_name(src, "src"), _image_name(dst, "dst")))


def decrypt_image(src, dst, keys):
    """Decrypts the layers of the image src into dst (named as for
    encrypt_image); returns the report. On any error dst is unchanged."""
    return _json.loads(_lc.decrypt_image(_keys(keys), _image_name(src, "src"),
                                         _image_name(dst, "dst")))


def layer_info(image):
    """The layers of image and how they are encrypted, as
    `layercrypt layerinfo --json` lists them."""
    return _json.loads(_lc.layer_info(_image_name(image, "image")))
