package follow

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// openLog opens a file to follow without ever blocking: a named pipe
// (FIFO) with no writer would block open(2) for as long as none comes,
// deaf to SIGTERM, so files are opened non-blocking and anything but a
// regular file is refused, saying what it is. A FIFO has no offsets to
// checkpoint or rotations to follow: its bytes come in on standard input
// (annotator < fifo).
func openLog(name string) (*os.File, error) {
	file, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if err := regularLog(name, fi); err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// NotLogError is a path to follow that is no regular file: a directory,
// a FIFO, a device. Given on the command line it is the caller's to fix.
type NotLogError struct {
	Name string
	Why  string
}

func (e *NotLogError) Error() string { return e.Name + " is " + e.Why }

// regularLog says why fi is no file to follow, or nil.
func regularLog(name string, fi os.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return &NotLogError{name, fmt.Sprintf("a directory, not a log file (a glob such as %s finds the files in it)", filepath.Join(name, "*.log"))}
	case m&os.ModeNamedPipe != 0:
		return &NotLogError{name, fmt.Sprintf("a named pipe (FIFO), not a log file: it has no offsets to resume from; pipe it in instead (annotator < %s)", name)}
	default:
		return &NotLogError{name, fmt.Sprintf("not a regular file (%s), not a log file", m.Type())}
	}
}
