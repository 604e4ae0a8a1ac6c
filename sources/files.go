package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/pipeline"
)

// Files reads named files one after another (standard input for "-"), as
// grep does: each file is its own stream, so a last line without '\n' is
// not joined to the next file's first line. A file that cannot be read is
// reported and skipped; Failed counts them.
type Files struct {
	paths  []string
	stdin  io.Reader
	pool   *Pool
	log    *slog.Logger
	jsonOn bool

	mu     sync.Mutex // guards cur's changes against Stranded
	cur    *Framer
	closer io.Closer
	Failed int
	// Report, when set, takes the error of each file that cannot be
	// read, worded "PATH: reason", instead of the log.
	Report func(err error)
}

// NewFiles reads paths in order; stdin serves "-". withPath puts the file's
// path into JSON output.
func NewFiles(paths []string, stdin io.Reader, pool *Pool, withPath bool, log *slog.Logger) *Files {
	return &Files{paths: paths, stdin: stdin, pool: pool, log: log, jsonOn: withPath}
}

// Next implements pipeline.Source.
func (s *Files) Next(ctx context.Context) (*pipeline.Batch, error) {
	for {
		if s.cur == nil {
			if len(s.paths) == 0 {
				return nil, io.EOF
			}
			if err := s.open(s.paths[0]); err != nil {
				s.Failed++
				s.report("cannot read file, skipping it", s.paths[0], err)
				s.paths = s.paths[1:]
				continue
			}
			s.paths = s.paths[1:]
		}
		b, err := s.cur.Next(ctx)
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, io.EOF) {
			s.Failed++
			s.report("read failed, going on with the next file", s.cur.streamName(), err)
		}
		if s.closer != nil {
			s.closer.Close()
		}
		s.setCur(nil, nil)
	}
}

// Unfinished implements pipeline.Finisher: a stop hands on the line being
// read as a complete one, so that the filter writes what it read.
func (s *Files) Unfinished(ctx context.Context) *pipeline.Batch {
	if s.cur == nil {
		return nil
	}
	return s.cur.Unfinished(ctx)
}

// Stranded implements pipeline.Finisher.
func (s *Files) Stranded() (*pipeline.Batch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil, false
	}
	return s.cur.Stranded()
}

// setCur changes the file being read; Stranded looks at it from another
// goroutine.
func (s *Files) setCur(fr *Framer, c io.Closer) {
	s.mu.Lock()
	s.cur, s.closer = fr, c
	s.mu.Unlock()
}

// report tells of a file that could not be read.
func (s *Files) report(what, path string, err error) {
	if s.Report == nil {
		s.log.Error(what, "file", path, "err", err)
		return
	}
	// "open x: no such file" from the system becomes "x: no such file".
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s.Report(fmt.Errorf("%s: %w", path, err))
}

func (s *Files) open(path string) error {
	if path == "-" {
		s.setCur(NewFramer(s.stdin, "", nil, s.pool), nil)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return &os.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	}
	var meta []byte
	if s.jsonOn {
		meta = append([]byte(`"path":`), annotate.AppendJSONString(nil, []byte(path))...)
		meta = append(meta, ',')
	}
	s.setCur(NewFramer(f, path, meta, s.pool), f)
	return nil
}
