package main

import (
	"context"
	"io"

	"golang.org/x/sys/unix"
)

// runStats is `annotator stats [flags] [FILE...]`: a run that prints only
// the summary table, on standard output.
func runStats(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, "stats", args, stdin, &statsOutput{w: stdout}, stderr)
}

// statsOutput stands in for standard output in a stats run: the annotated
// lines are dropped and the summary goes to w (as JSON with --format
// json).
type statsOutput struct{ w io.Writer }

func (s *statsOutput) Write(p []byte) (int, error) { return len(p), nil }

// termios reports whether fd is a terminal.
func termios(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
