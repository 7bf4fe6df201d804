package layercrypt

// #include "layercrypt.h"
import "C"

import "strings"

// Status is the library's lc_status: the coarse cause of a failure.
// Callers branch on it with errors.Is(err, ErrKey) and the like.
type Status int

// The lc_status codes (layercrypt.h).
const (
	StatusOK              Status = C.LC_OK
	StatusInvalidArgument Status = C.LC_ERR_INVALID_ARGUMENT // a nil or malformed argument, a bad spelling
	StatusData            Status = C.LC_ERR_DATA             // malformed input: JSON, base64, a key file, a blob
	StatusIntegrity       Status = C.LC_ERR_INTEGRITY        // a MAC or digest did not match: tampered or corrupt
	StatusKey             Status = C.LC_ERR_KEY              // no key opens the layer; a wrong password
	StatusUnsupported     Status = C.LC_ERR_UNSUPPORTED      // a scheme, cipher or media type layercrypt lacks
	StatusIO              Status = C.LC_ERR_IO               // reading or writing a file failed
	StatusCallback        Status = C.LC_ERR_CALLBACK         // the io.Reader or the consumer failed, or ctx ended
	StatusInternal        Status = C.LC_ERR_INTERNAL         // out of memory, or a bug
)

// Sentinels for errors.Is: every *Error matches the one of its Status.
var (
	ErrInvalidArgument error = StatusInvalidArgument
	ErrData            error = StatusData
	ErrIntegrity       error = StatusIntegrity
	ErrKey             error = StatusKey
	ErrUnsupported     error = StatusUnsupported
	ErrIO              error = StatusIO
	ErrCallback        error = StatusCallback
	ErrInternal        error = StatusInternal
)

// String returns the C name, such as "LC_ERR_KEY".
func (s Status) String() string { return C.GoString(C.lc_status_name(C.lc_status(s))) }

// Error makes a Status usable as a sentinel error.
func (s Status) Error() string { return "layercrypt: " + s.String() }

// Error is a failure reported by liblayercrypt or by this binding.
type Error struct {
	Status  Status
	Op      string // what failed: "encrypt layer", "decrypt layer", "add key 2", ...
	Message string // the library's one-line message; never key material
	Err     error  // with StatusCallback: the reader's, the consumer's or the context's error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("layercrypt: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(e.Status.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is e's Status (ErrKey, ErrIntegrity, ...).
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// Unwrap returns the reader's, consumer's or context's error, so that
// errors.Is(err, context.Canceled) holds for a cancelled operation.
func (e *Error) Unwrap() error { return e.Err }

func newError(st Status, op, msg string) *Error {
	return &Error{Status: st, Op: op, Message: msg}
}
