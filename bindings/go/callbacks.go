package layercrypt

// #include <stddef.h>
// #include <stdint.h>
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

// stream is what the library's reader and writer callbacks see of one
// operation: the caller's io.Reader and the pipe the output goes to. The
// callbacks run on the thread of the operation's C call, one at a time, so
// stream needs no lock.
type stream struct {
	ctx     context.Context
	in      io.Reader
	out     *io.PipeWriter
	eof     bool
	pending error // an error the reader returned along with data: reported on the next read
	inErr   error // why the reader callback failed
	outErr  error // why the writer callback failed
}

// maxRead bounds one read into the library's buffer (it may offer more).
const maxRead = 1 << 30

// lcgoRead is the lc_reader callback: it reads from the caller's io.Reader
// straight into the library's buffer. It returns the count, 0 at the end,
// or -1 when the reader failed, panicked or ctx ended (inErr says which).
//
//export lcgoRead
func lcgoRead(h C.uintptr_t, buf *C.uint8_t, capacity C.size_t) (n C.int64_t) {
	s := cgo.Handle(h).Value().(*stream)
	defer func() {
		if r := recover(); r != nil {
			s.inErr = fmt.Errorf("layer reader panicked: %v", r)
			n = -1
		}
	}()
	if s.pending != nil {
		s.inErr = s.pending
		return -1
	}
	if s.eof || capacity == 0 {
		return 0
	}
	if err := s.ctx.Err(); err != nil {
		s.inErr = err
		return -1
	}
	c := int(capacity)
	if capacity > maxRead {
		c = maxRead
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), c)
	for tries := 0; ; tries++ {
		m, err := s.in.Read(p)
		if m < 0 || m > len(p) {
			s.inErr = fmt.Errorf("layer reader returned %d for a %d-byte buffer", m, len(p))
			return -1
		}
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil && m > 0:
			s.pending = err
		case err != nil:
			s.inErr = err
			return -1
		}
		if m > 0 || s.eof {
			return C.int64_t(m)
		}
		if tries == 100 {
			s.inErr = io.ErrNoProgress
			return -1
		}
	}
}

// lcgoWrite is the lc_writer callback: it hands the library's buffer to the
// consumer through the pipe and returns once the consumer has copied all
// of it (the pipe keeps no reference), or -1 when the consumer closed its
// end or ctx ended.
//
//export lcgoWrite
func lcgoWrite(h C.uintptr_t, buf *C.uint8_t, length C.size_t) C.int {
	s := cgo.Handle(h).Value().(*stream)
	if length == 0 {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(length))
	if _, err := s.out.Write(p); err != nil {
		if ctxErr := s.ctx.Err(); ctxErr != nil && errors.Is(err, io.ErrClosedPipe) {
			err = ctxErr
		}
		s.outErr = err
		return -1
	}
	return 0
}

// cause is the Go error behind an LC_ERR_CALLBACK.
func (s *stream) cause() error {
	if s.inErr != nil {
		return s.inErr
	}
	return s.outErr
}
