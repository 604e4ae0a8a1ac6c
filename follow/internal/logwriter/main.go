// Command logwriter is a log-writing process for the follower's tests and
// the rotation soak: it appends numbered lines to a file and rotates it the
// ways log rotation does, one command at a time from standard input, and
// answers "ok" on standard output after each, so a test knows exactly what
// is in which file.
//
// Commands:
//
//	w N          append the next N lines (every seventh in two writes, so
//	             a reader sees partial lines)
//	big N        append one line of N bytes
//	r KIND       rotate: rename, copytruncate, delete or truncate; or
//	             create: rename and create an empty file, as logrotate's
//	             create does, while writing on into the renamed file
//	reopen       reopen the path, as a daemon does on its postrotate HUP
//	q            exit
//
// Lines look like "seq=000000042 err 803001 ...\n": the sequence number
// counts every line ever written.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: logwriter FILE")
		os.Exit(2)
	}
	w := &writer{path: os.Args[1]}
	if err := w.open(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		switch f[0] {
		case "w":
			err = w.lines(atoi(f, 1))
		case "big":
			err = w.big(atoi(f, 1))
		case "r":
			if len(f) < 2 {
				err = fmt.Errorf("r needs a kind")
			} else {
				err = w.rotate(f[1])
			}
		case "reopen":
			w.f.Close()
			err = w.open()
		case "q":
			return
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "logwriter:", err)
			os.Exit(1)
		}
		fmt.Println("ok")
	}
}

func atoi(f []string, i int) int {
	if len(f) <= i {
		return 0
	}
	n, _ := strconv.Atoi(f[i])
	return n
}

type writer struct {
	path string
	f    *os.File
	seq  int
	buf  []byte
}

func (w *writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

func (w *writer) lines(n int) error {
	for i := 0; i < n; i++ {
		w.seq++
		w.buf = fmt.Appendf(w.buf[:0], "seq=%09d err 803001 user %d did a thing\n", w.seq, w.seq%97)
		if w.seq%7 == 0 {
			half := len(w.buf) / 2
			if _, err := w.f.Write(w.buf[:half]); err != nil {
				return err
			}
			if _, err := w.f.Write(w.buf[half:]); err != nil {
				return err
			}
			continue
		}
		if _, err := w.f.Write(w.buf); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) big(n int) error {
	w.seq++
	head := fmt.Sprintf("seq=%09d big ", w.seq)
	line := make([]byte, n)
	copy(line, head)
	for i := len(head); i < n-1; i++ {
		line[i] = 'a' + byte(i%26)
	}
	line[n-1] = '\n'
	_, err := w.f.Write(line)
	return err
}

// shift renames path.N to path.N+1, newest last, as logrotate does.
func (w *writer) shift() error {
	for i := 8; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", w.path, i)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, fmt.Sprintf("%s.%d", w.path, i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) rotate(kind string) error {
	switch kind {
	case "rename":
		if err := w.shift(); err != nil {
			return err
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
		w.f.Close()
		return w.open()
	case "create":
		if err := w.shift(); err != nil {
			return err
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	case "delete":
		if err := os.Remove(w.path); err != nil {
			return err
		}
		w.f.Close()
		return w.open()
	case "copytruncate":
		if err := w.shift(); err != nil {
			return err
		}
		if err := copyFile(w.path, w.path+".1"); err != nil {
			return err
		}
		return w.f.Truncate(0)
	case "truncate":
		return w.f.Truncate(0)
	}
	return fmt.Errorf("unknown rotation %q", kind)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
