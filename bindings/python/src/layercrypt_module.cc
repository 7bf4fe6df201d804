// bindings/python/src/layercrypt_module.cc: layercrypt._layercrypt, the
// Python extension over the C API (bindings/c/layercrypt.h).
//
// This module is the thin layer that must be C++: it owns the C configs,
// turns lc_status codes into the exception classes below, releases the GIL
// around every call into the engine, and bridges streams. A stream is a
// file descriptor (read and written here without the GIL) or a Python
// binary file object, called through the lc_reader / lc_writer callbacks
// with the GIL taken for each chunk only. The engine calls the callbacks
// from its pipeline threads, not always from the thread that called it, so
// each callback takes the GIL as a foreign thread may (gil_scoped_acquire).
// Paths, key specs and JSON are handled in Python (layercrypt/*.py).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "layercrypt.h"

namespace py = pybind11;

namespace {

// ---- exceptions -------------------------------------------------------------

// error_classes[status] is the exception class raised for that lc_status.
PyObject* error_classes[LC_ERR_INTERNAL + 1] = {};

PyObject* error_class(lc_status status) {
  const int i = static_cast<int>(status);
  if (i <= 0 || i > LC_ERR_INTERNAL) return error_classes[LC_ERR_INTERNAL];
  return error_classes[i];
}

// make_error_class creates layercrypt.NAME deriving from `bases` and
// records the lc_status it stands for as class attributes.
PyObject* make_error_class(py::module_& m, const char* name, py::tuple bases, lc_status status,
                           const char* doc) {
  const std::string qualified = std::string("layercrypt.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (cls == nullptr) throw py::error_already_set();
  py::handle h(cls);
  h.attr("status") = static_cast<int>(status);
  h.attr("status_name") = lc_status_name(status);
  m.add_object(name, h);  // the module keeps a reference for good
  return cls;
}

[[noreturn]] void raise_status(lc_status status, const std::string& message) {
  PyErr_SetString(error_class(status), message.c_str());
  throw py::error_already_set();
}

// Outcome is what a C call made without the GIL left: its status and,
// read at once on the same thread, lc_last_error().
struct Outcome {
  lc_status status = LC_OK;
  std::string message;
};

// call_without_gil runs `f` (returning an lc_status) with the GIL released.
template <typename F>
Outcome call_without_gil(F&& f) {
  py::gil_scoped_release release;
  Outcome o;
  o.status = f();
  if (o.status != LC_OK) o.message = lc_last_error();
  return o;
}

void check(const Outcome& o) {
  if (o.status != LC_OK) raise_status(o.status, o.message);
}

// ---- owned strings and configs ------------------------------------------------

// Owned holds what the C API made and releases it with Free.
template <typename T, void (*Free)(T*)>
class Owned {
 public:
  explicit Owned(T* p = nullptr) : p_(p) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { Free(p_); }
  T* get() const { return p_; }
  T** out() { return &p_; }

 private:
  T* p_;
};

void free_string(char* p) { lc_free(p); }
using LcString = Owned<char, free_string>;
using LayerResult = Owned<lc_layer, lc_layer_free>;

template <typename T>
T* made(T* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// timeout_ms turns a key-provider timeout in seconds (0: the default) into
// the C API's milliseconds.
uint32_t timeout_ms(double seconds) {
  if (!(seconds >= 0) || seconds > 3600) throw py::value_error("timeout must be 0..3600 seconds");
  return static_cast<uint32_t>(seconds * 1000);
}

// EncryptConfig and DecryptConfig own an lc_encrypt_config / lc_decrypt_config.
// The Python layer fills one completely before any operation uses it, so an
// operation may share it with others on other threads (layercrypt.h).
class EncryptConfig {
 public:
  void add_recipient(const std::string& recipient) {
    check(call_without_gil(
        [&] { return lc_encrypt_config_add_recipient(get(), recipient.c_str()); }));
  }
  void set_compression(const std::string& compression) {
    check(call_without_gil(
        [&] { return lc_encrypt_config_set_compression(get(), compression.c_str()); }));
  }
  void set_keyprovider_config(const std::optional<std::string>& path, double timeout) {
    const uint32_t ms = timeout_ms(timeout);
    check(call_without_gil([&] {
      return lc_encrypt_config_set_keyprovider_config(get(), path ? path->c_str() : nullptr, ms);
    }));
  }
  void set_pkcs11_config(const std::optional<std::string>& config) {
    check(call_without_gil([&] {
      return lc_encrypt_config_set_pkcs11_config(get(), config ? config->c_str() : nullptr);
    }));
  }
  // set_gpg_pubring reads the OpenPGP public keyring later pgp: recipients
  // are looked up in.
  void set_gpg_pubring(const std::string& path) {
    check(call_without_gil([&] { return lc_encrypt_config_set_gpg_pubring(get(), path.c_str()); }));
  }
  lc_encrypt_config* get() const { return p_.get(); }

 private:
  Owned<lc_encrypt_config, lc_encrypt_config_free> p_{made(lc_encrypt_config_new())};
};

class DecryptConfig {
 public:
  // add_key takes any contiguous buffer without copying it on the Python side.
  void add_key(const py::buffer& key, const std::optional<py::buffer>& password) {
    const py::buffer_info k = contiguous(key, "key");
    std::optional<py::buffer_info> pw;
    if (password) pw = contiguous(*password, "password");
    const auto* kp = static_cast<const uint8_t*>(k.ptr);
    const size_t klen = static_cast<size_t>(k.size * k.itemsize);
    const auto* pp = pw ? static_cast<const uint8_t*>(pw->ptr) : nullptr;
    const size_t plen = pw ? static_cast<size_t>(pw->size * pw->itemsize) : 0;
    static const uint8_t empty = 0;
    if (pw && pp == nullptr) pp = &empty;  // an empty password is still a password
    check(call_without_gil([&] { return lc_decrypt_config_add_key(get(), kp, klen, pp, plen); }));
  }
  void add_key_file(const std::string& path, const std::optional<std::string>& password) {
    if (password && password->find('\0') != std::string::npos)
      throw py::value_error("a key file's password cannot contain NUL; pass the key as bytes");
    const char* pw = password ? password->c_str() : nullptr;
    check(
        call_without_gil([&] { return lc_decrypt_config_add_key_file(get(), path.c_str(), pw); }));
  }
  void add_keys_dir(const std::string& dir) {
    check(call_without_gil([&] { return lc_decrypt_config_add_keys_dir(get(), dir.c_str()); }));
  }
  void add_provider(const std::string& key) {
    check(call_without_gil([&] { return lc_decrypt_config_add_provider(get(), key.c_str()); }));
  }
  void set_keyprovider_config(const std::optional<std::string>& path, double timeout) {
    const uint32_t ms = timeout_ms(timeout);
    check(call_without_gil([&] {
      return lc_decrypt_config_set_keyprovider_config(get(), path ? path->c_str() : nullptr, ms);
    }));
  }
  void set_pkcs11_config(const std::optional<std::string>& config) {
    check(call_without_gil([&] {
      return lc_decrypt_config_set_pkcs11_config(get(), config ? config->c_str() : nullptr);
    }));
  }
  lc_decrypt_config* get() const { return p_.get(); }

 private:
  static py::buffer_info contiguous(const py::buffer& b, const char* what) {
    py::buffer_info info = b.request();
    if (info.ndim > 1 || (info.ndim == 1 && info.strides[0] != info.itemsize))
      throw py::value_error(std::string(what) + " must be a contiguous buffer");
    return info;
  }

  Owned<lc_decrypt_config, lc_decrypt_config_free> p_{made(lc_decrypt_config_new())};
};

// ---- streams --------------------------------------------------------------------

// Stream is one side of a layer operation: a file descriptor or a Python
// file object. Callbacks record why they failed; raise_failure() turns that
// into the Python exception after the C call returned.
class Stream {
 public:
  // `obj` is an int (a file descriptor the caller keeps open) or a binary
  // file object; `name` (may be None) names a path in OSError messages.
  Stream(const py::object& obj, bool reading, std::optional<std::string> name)
      : name_(std::move(name)) {
    if (py::isinstance<py::int_>(obj)) {
      fd_ = obj.cast<int>();
      if (fd_ < 0) throw py::value_error("a file descriptor cannot be negative");
      return;
    }
    if (reading) {
      if (py::hasattr(obj, "readinto"))
        readinto_ = obj.attr("readinto");
      else if (py::hasattr(obj, "read"))
        read_ = obj.attr("read");
      else
        throw py::type_error(
            "src must be a path, a file descriptor, or a binary file object with read()");
    } else {
      if (py::hasattr(obj, "write"))
        write_ = obj.attr("write");
      else
        throw py::type_error(
            "dst must be a path, a file descriptor, or a binary file object with write()");
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  lc_reader reader() {
    return fd_ >= 0 ? lc_reader{this, &Stream::fd_read} : lc_reader{this, &Stream::obj_read};
  }
  lc_writer writer() {
    return fd_ >= 0 ? lc_writer{this, &Stream::fd_write} : lc_writer{this, &Stream::obj_write};
  }

  bool failed() const { return errno_ != 0 || static_cast<bool>(error_); }

  // raise_failure raises what made a callback fail: the Python exception a
  // file object raised (as the __cause__ of a CallbackError, or itself if it
  // is no Exception, e.g. KeyboardInterrupt), or the errno of a descriptor
  // (LayercryptIOError, an OSError).
  [[noreturn]] void raise_failure(const std::string& message) {
    if (errno_ != 0) {
      py::object cls = py::reinterpret_borrow<py::object>(error_class(LC_ERR_IO));
      py::object exc =
          name_ ? cls(errno_, std::strerror(errno_), *name_) : cls(errno_, std::strerror(errno_));
      PyErr_SetObject(cls.ptr(), exc.ptr());
      throw py::error_already_set();
    }
    py::object cause = std::move(error_);
    if (!PyObject_IsInstance(cause.ptr(), PyExc_Exception)) {
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(cause.ptr())), cause.ptr());
      throw py::error_already_set();
    }
    py::object cls = py::reinterpret_borrow<py::object>(error_class(LC_ERR_CALLBACK));
    py::object exc = cls(message + " (" +
                         py::str(py::type::handle_of(cause).attr("__name__")).cast<std::string>() +
                         ": " + py::str(cause).cast<std::string>() + ")");
    PyException_SetCause(exc.ptr(), cause.inc_ref().ptr());  // steals a reference
    PyException_SetContext(exc.ptr(), cause.inc_ref().ptr());
    PyErr_SetObject(cls.ptr(), exc.ptr());
    throw py::error_already_set();
  }

 private:
  static int64_t fd_read(void* ctx, uint8_t* buf, size_t cap) {
    auto* s = static_cast<Stream*>(ctx);
    for (;;) {
      const ssize_t n = ::read(s->fd_, buf, cap);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      s->errno_ = errno;
      return -1;
    }
  }

  static int fd_write(void* ctx, const uint8_t* buf, size_t len) {
    auto* s = static_cast<Stream*>(ctx);
    while (len > 0) {
      const ssize_t n = ::write(s->fd_, buf, len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        s->errno_ = n < 0 ? errno : EIO;
        return -1;
      }
      buf += n;
      len -= static_cast<size_t>(n);
    }
    return 0;
  }

  // count checks what readinto()/write() returned: an int in [0, cap].
  static size_t count(const py::object& r, size_t cap, const char* what) {
    if (!py::isinstance<py::int_>(r))
      throw py::type_error(std::string(what) + " returned " +
                           py::str(py::type::handle_of(r).attr("__name__")).cast<std::string>() +
                           ", not an int");
    const long long n = r.cast<long long>();
    if (n < 0 || static_cast<unsigned long long>(n) > cap)
      throw py::value_error(std::string(what) + " returned " + std::to_string(n) +
                            " for a buffer of " + std::to_string(cap) + " bytes");
    return static_cast<size_t>(n);
  }

  // remember keeps the Python exception being handled (GIL held).
  void remember(py::error_already_set& e) {
    e.restore();
    PyObject *type, *value, *trace;
    PyErr_Fetch(&type, &value, &trace);
    PyErr_NormalizeException(&type, &value, &trace);
    if (trace != nullptr && value != nullptr) PyException_SetTraceback(value, trace);
    error_ = py::reinterpret_steal<py::object>(value);
    Py_XDECREF(type);
    Py_XDECREF(trace);
  }

  // with_python runs a callback's body with the GIL; an exception it
  // raises is kept for raise_failure() and fails the callback (-1). After
  // a failure the stream fails at once.
  template <typename F>
  static auto with_python(Stream* s, F&& body) -> decltype(body()) {
    if (s->failed()) return -1;
    py::gil_scoped_acquire gil;
    try {
      // Ctrl-C: Python runs signal handlers in its main thread only, so
      // this acts when the engine calls back on the calling thread and that
      // is the main thread.
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      return body();
    } catch (py::error_already_set& e) {
      s->remember(e);
    } catch (const py::builtin_exception& e) {
      e.set_error();
      py::error_already_set err;
      s->remember(err);
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
      py::error_already_set err;
      s->remember(err);
    }
    return -1;
  }

  // obj_read calls readinto() with a bytearray of the stream's own (or
  // read()) and copies what came back: Python never holds a pointer into
  // the engine's buffers, whatever the file object keeps.
  static int64_t obj_read(void* ctx, uint8_t* buf, size_t cap) {
    auto* s = static_cast<Stream*>(ctx);
    return with_python(s, [&]() -> int64_t {
      py::object r;
      if (s->readinto_) {
        if (!s->chunk_ || static_cast<size_t>(PyByteArray_GET_SIZE(s->chunk_.ptr())) != cap) {
          s->chunk_ = py::reinterpret_steal<py::object>(
              PyByteArray_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap)));
          if (!s->chunk_) throw py::error_already_set();
        }
        r = s->readinto_(s->chunk_);
        if (r.is_none())
          throw py::value_error("readinto() returned None: non-blocking streams are not supported");
        const size_t n = count(r, cap, "readinto()");
        if (static_cast<size_t>(PyByteArray_GET_SIZE(s->chunk_.ptr())) < n)
          throw py::value_error("readinto() shrank the buffer it was given");
        std::memcpy(buf, PyByteArray_AS_STRING(s->chunk_.ptr()), n);
        return static_cast<int64_t>(n);
      }
      r = s->read_(cap);
      Py_buffer b;
      if (PyObject_GetBuffer(r.ptr(), &b, PyBUF_C_CONTIGUOUS) != 0) throw py::error_already_set();
      const size_t n = static_cast<size_t>(b.len);
      if (n <= cap) std::memcpy(buf, b.buf, n);
      PyBuffer_Release(&b);
      if (n > cap)
        throw py::value_error("read(" + std::to_string(cap) + ") returned " + std::to_string(n) +
                              " bytes");
      return static_cast<int64_t>(n);
    });
  }

  // obj_write hands write() a bytes copy of the chunk (immutable, so a file
  // object may keep it) and calls it again for what a short write left.
  static int obj_write(void* ctx, const uint8_t* buf, size_t len) {
    auto* s = static_cast<Stream*>(ctx);
    return with_python(s, [&]() -> int {
      while (len > 0) {
        const py::object r = s->write_(py::bytes(reinterpret_cast<const char*>(buf), len));
        // None: a writer that does not count (it took everything).
        const size_t n = r.is_none() ? len : count(r, len, "write()");
        if (n == 0) throw py::value_error("write() wrote nothing");
        buf += n;
        len -= n;
      }
      return 0;
    });
  }

  int fd_ = -1;
  int errno_ = 0;
  std::optional<std::string> name_;
  py::object read_, readinto_, write_;
  py::object chunk_;  // the bytearray readinto() fills
  py::object error_;
};

// check_streams raises for a failed C call, preferring what a stream saw.
void check_streams(const Outcome& o, Stream& in, Stream& out) {
  if (o.status == LC_OK) return;
  if (in.failed()) in.raise_failure(o.message);
  if (out.failed()) out.raise_failure(o.message);
  raise_status(o.status, o.message);
}

// string_out runs `f(char** out)`, an lc_* call that returns a string the
// caller frees, without the GIL, and returns the string.
template <typename F>
std::string string_out(F&& f) {
  LcString s;
  check(call_without_gil([&] { return f(s.out()); }));
  return s.get() ? std::string(s.get()) : std::string();
}

// image_operation wraps lc_encrypt_image / lc_decrypt_image.
template <typename Config, typename CConfig>
auto image_operation(lc_status (*op)(const CConfig*, const char*, const char*, char**)) {
  return [op](const Config& config, const std::string& src, const std::string& dst) {
    return string_out([&](char** out) { return op(config.get(), src.c_str(), dst.c_str(), out); });
  };
}

using Name = std::optional<std::string>;

}  // namespace

PYBIND11_MODULE(_layercrypt, m) {
  m.doc() = "layercrypt's C API (liblayercrypt) for Python; use the layercrypt package.";

  py::object exception = py::reinterpret_borrow<py::object>(PyExc_Exception);
  PyObject* base =
      make_error_class(m, "LayercryptError", py::make_tuple(exception), LC_ERR_INTERNAL,
                       "A layercrypt operation failed; `status` and `status_name` "
                       "say how (layercrypt.h's lc_status).");
  py::object b = py::reinterpret_borrow<py::object>(base);
  struct ErrorClass {
    lc_status status;
    const char* name;
    PyObject* builtin;  // a second base, or null
    const char* doc;
  };
  const ErrorClass classes[] = {
      {LC_ERR_INVALID_ARGUMENT, "InvalidArgumentError", PyExc_ValueError,
       "A malformed argument: a recipient or compression spelling, a public key given as a "
       "private key, a layer that is no layer, no recipients."},
      {LC_ERR_DATA, "DataError", nullptr,
       "Malformed input: descriptor JSON, base64, a key file, a blob."},
      {LC_ERR_INTEGRITY, "IntegrityError", nullptr,
       "A MAC or digest did not match: the layer is tampered with or corrupt."},
      {LC_ERR_KEY, "KeyUnavailableError", nullptr,
       "No key opens the layer (the message lists its recipients), or a wrong password."},
      {LC_ERR_UNSUPPORTED, "UnsupportedError", nullptr,
       "A scheme, cipher or media type layercrypt lacks."},
      {LC_ERR_IO, "LayercryptIOError", PyExc_OSError,
       "Reading or writing a file failed (an OSError: errno and filename are set when a file of "
       "the call failed)."},
      {LC_ERR_CALLBACK, "CallbackError", nullptr,
       "A file object's read(), readinto() or write() raised or misbehaved; __cause__ is what it "
       "raised."},
      {LC_ERR_INTERNAL, "InternalError", nullptr, "Out of memory, or a bug in layercrypt."},
  };
  for (const ErrorClass& c : classes) {
    py::tuple bases = c.builtin ? py::make_tuple(b, py::reinterpret_borrow<py::object>(c.builtin))
                                : py::make_tuple(b);
    error_classes[c.status] = make_error_class(m, c.name, bases, c.status, c.doc);
  }

  m.def(
      "version", [] { return std::string(lc_version()); }, "The library's version.");
  m.def(
      "cpu_paths", [] { return std::string(lc_cpu_paths()); },
      "The CPU code paths in use, one per line.");
  m.attr("API_VERSION") = py::make_tuple(LC_API_VERSION_MAJOR, LC_API_VERSION_MINOR);

  py::class_<EncryptConfig>(m, "EncryptConfig")
      .def(py::init<>())
      .def("add_recipient", &EncryptConfig::add_recipient, py::arg("recipient"))
      .def("set_compression", &EncryptConfig::set_compression, py::arg("compression"))
      .def("set_keyprovider_config", &EncryptConfig::set_keyprovider_config,
           py::arg("path") = py::none(), py::arg("timeout") = 0.0)
      .def("set_pkcs11_config", &EncryptConfig::set_pkcs11_config, py::arg("config") = py::none())
      .def("set_gpg_pubring", &EncryptConfig::set_gpg_pubring, py::arg("path"));

  py::class_<DecryptConfig>(m, "DecryptConfig")
      .def(py::init<>())
      .def("add_key", &DecryptConfig::add_key, py::arg("key"), py::arg("password") = py::none())
      .def("add_key_file", &DecryptConfig::add_key_file, py::arg("path"),
           py::arg("password") = py::none())
      .def("add_keys_dir", &DecryptConfig::add_keys_dir, py::arg("dir"))
      .def("add_provider", &DecryptConfig::add_provider, py::arg("key"))
      .def("set_keyprovider_config", &DecryptConfig::set_keyprovider_config,
           py::arg("path") = py::none(), py::arg("timeout") = 0.0)
      .def("set_pkcs11_config", &DecryptConfig::set_pkcs11_config, py::arg("config") = py::none());

  m.def(
      "encrypt_layer",
      [](const EncryptConfig& config, const Name& media_type, const py::object& src,
         const py::object& dst, const Name& src_name, const Name& dst_name) {
        Stream in(src, true, src_name), out(dst, false, dst_name);
        LayerResult layer;
        const char* mt = media_type ? media_type->c_str() : nullptr;
        const Outcome o = call_without_gil([&] {
          return lc_encrypt_layer(config.get(), mt, in.reader(), out.writer(), layer.out());
        });
        check_streams(o, in, out);
        return py::make_tuple(lc_layer_descriptor_json(layer.get()), lc_layer_diff_id(layer.get()));
      },
      py::arg("config"), py::arg("media_type"), py::arg("src"), py::arg("dst"),
      py::arg("src_name") = py::none(), py::arg("dst_name") = py::none(),
      "Encrypts one layer from src to dst; returns (descriptor JSON, diff_id or '').");

  m.attr("DECRYPT_STREAM") = LC_DECRYPT_STREAM;
  m.attr("DECRYPT_DECOMPRESS") = LC_DECRYPT_DECOMPRESS;
  m.def(
      "decrypt_layer",
      [](const DecryptConfig& config, const std::string& descriptor, const py::object& src,
         const py::object& dst, unsigned flags, const Name& src_name, const Name& dst_name) {
        Stream in(src, true, src_name), out(dst, false, dst_name);
        LayerResult layer;
        const Outcome o = call_without_gil([&] {
          return lc_decrypt_layer(config.get(), descriptor.c_str(), in.reader(), out.writer(),
                                  flags, layer.out());
        });
        check_streams(o, in, out);
        return std::string(lc_layer_descriptor_json(layer.get()));
      },
      py::arg("config"), py::arg("descriptor"), py::arg("src"), py::arg("dst"),
      py::arg("flags") = 0u, py::arg("src_name") = py::none(), py::arg("dst_name") = py::none(),
      "Decrypts one layer from src to dst; returns the plaintext descriptor JSON.");

  m.def(
      "check_layer_keys",
      [](const DecryptConfig& config, const std::string& descriptor) {
        check(call_without_gil(
            [&] { return lc_check_layer_keys(config.get(), descriptor.c_str()); }));
      },
      py::arg("config"), py::arg("descriptor"));

  m.def(
      "add_recipients",
      [](const DecryptConfig& keys, const EncryptConfig& recipients,
         const std::string& descriptor) {
        return string_out([&](char** out) {
          return lc_add_recipients(keys.get(), recipients.get(), descriptor.c_str(), out);
        });
      },
      py::arg("keys"), py::arg("recipients"), py::arg("descriptor"));
  m.def("encrypt_image", image_operation<EncryptConfig>(&lc_encrypt_image), py::arg("config"),
        py::arg("src"), py::arg("dst"), "Encrypts an image; returns the report JSON.");
  m.def("decrypt_image", image_operation<DecryptConfig>(&lc_decrypt_image), py::arg("config"),
        py::arg("src"), py::arg("dst"), "Decrypts an image; returns the report JSON.");
  m.def(
      "layer_info",
      [](const std::string& image) {
        return string_out([&](char** out) { return lc_layer_info(image.c_str(), out); });
      },
      py::arg("image"));
}
