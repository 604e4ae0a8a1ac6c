package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// LockName is the lock file inside the state directory. Its flock tells
// whether a process holds the directory; its content is the holder's PID,
// only for telling a second instance who that is.
//
// The file is never deleted: a process that had opened it before the
// unlink would lock a file no longer in the directory while a third one
// created and locked a new one, and both would write checkpoints.
const LockName = "lock"

// InUseError reports a state directory another process holds: two
// followers writing one checkpoint file would overwrite each other's
// offsets.
type InUseError struct {
	Dir string
	// PID is the holder's process id, 0 when it could not be read.
	PID int
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("state directory %s is in use by another annotator (%s)", e.Dir, e.Holder())
}

// Holder says who holds the directory: "pid 1234", or "pid unknown".
func (e *InUseError) Holder() string {
	if e.PID <= 0 {
		return "pid unknown"
	}
	return "pid " + strconv.Itoa(e.PID)
}

// dirLock is a held state directory: the lock file's descriptor. It is a
// bare descriptor rather than an *os.File on purpose: an *os.File left
// unreferenced is closed by its finalizer, which would drop the lock
// silently while the store might still write.
type dirLock struct {
	fd   int
	path string
}

// lockDir takes dir for this process with an exclusive flock on its lock
// file and writes the PID there. The kernel releases the lock when the
// process ends however it ends, so a killed holder leaves a stale PID but
// never a held lock.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockName)
	// O_NOFOLLOW: a lock file that is a symlink (planted, or left by a
	// careless copy) would have its target truncated and overwritten.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("state directory %s: %s is a symbolic link; refusing to write through it (remove it)", dir, LockName)
	}
	if err != nil {
		return nil, fmt.Errorf("state directory %s: open %s: %w", dir, LockName, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		pid := holderPID(fd)
		unix.Close(fd)
		return nil, &InUseError{Dir: dir, PID: pid}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	if err = unix.Ftruncate(fd, 0); err == nil {
		_, err = unix.Pwrite(fd, []byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("state directory %s: write %s: %w", dir, LockName, err)
	}
	return &dirLock{fd: fd, path: path}, nil
}

// holderPID reads the PID the lock's holder wrote. The holder writes it
// just after taking the lock, so an empty file is read again for a moment
// before giving up.
func holderPID(fd int) int {
	buf := make([]byte, 32)
	for try := 0; try < 50; try++ {
		n, _ := unix.Pread(fd, buf, 0)
		if s := bytes.TrimSpace(buf[:max(n, 0)]); len(s) > 0 {
			pid, err := strconv.Atoi(string(s))
			if err != nil {
				return 0
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// unlock releases the directory. The PID is cleared first, while the
// lock is still held, so that no one reads a departed process's id after
// a clean stop.
func (l *dirLock) unlock() error {
	terr := unix.Ftruncate(l.fd, 0)
	if err := unix.Close(l.fd); err != nil {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	if terr != nil {
		return fmt.Errorf("clear %s: %w", l.path, terr)
	}
	return nil
}
