package follow

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Discovery: the configured paths and globs are matched again on every
// poll and on every file created in a watched directory. A name gets a
// follower unless it is
//
//   - a rotated name (--rotated) of another name followed: app.log.1,
//     app.log-20261204 and app.log.2.gz beside app.log. Such a file is a
//     generation of app.log, read through app.log's follower when it
//     holds lines that follower has not read (renamed while behind, a
//     copytruncate copy, rotated while stopped) and otherwise not at all:
//     read on its own it would repeat what app.log's follower read;
//   - a compressed file, never read as lines of its own;
//   - another name of a file a follower already holds (a symlink beside
//     its target, a name no --rotated pattern covers).
//
// So a file is read by one follower only, whatever its names.

// discovery is the manager's view of the followed names.
type discovery struct {
	s         *Source
	followers map[string]*follower
	watcher   *fsnotify.Watcher
	watched   map[string]bool
	// logged: patterns and names already reported, so that a poll every
	// 250 ms does not repeat the news.
	logged map[string]bool
	first  bool
}

// manage owns the followers: it starts one per path (and per file a glob
// matches, also later), and wakes them on file system events.
func (s *Source) manage(ctx context.Context) {
	d := &discovery{s: s, followers: map[string]*follower{}, watched: map[string]bool{}, logged: map[string]bool{}, first: true}
	if !s.opt.NoWatch {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			s.opt.Log.Warn("file system notifications unavailable; polling", "every", s.opt.Poll, "err", err)
		} else {
			d.watcher = w
			defer w.Close()
		}
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if d.watcher != nil {
		events, errs = d.watcher.Events, d.watcher.Errors
	}
	d.scan(ctx)
	tick := time.NewTicker(s.opt.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.scan(ctx)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			dir := filepath.Dir(ev.Name)
			for _, f := range d.followers {
				if f.dir == dir {
					select {
					case f.wake <- struct{}{}:
					default:
					}
				}
			}
			if ev.Has(fsnotify.Create) {
				d.scan(ctx)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.opt.Log.Debug("file system notification error; polling covers it", "err", err)
		}
	}
}

// scan matches the paths again and starts a follower for each new name.
func (d *discovery) scan(ctx context.Context) {
	s := d.s
	for n, f := range d.followers {
		select {
		case <-f.done: // released (its file deleted): a dated name may never come back
			delete(d.followers, n)
			delete(d.logged, n)
		default:
		}
	}
	matched := make([][]string, len(s.opt.Paths))
	all := map[string]bool{}
	for i, p := range s.opt.Paths {
		if isGlob(p) {
			matched[i], _ = filepath.Glob(p)
			if len(matched[i]) == 0 && !d.logged[p] {
				s.opt.Log.Info("no file matches yet; waiting", "pattern", p)
				d.logged[p] = true
			}
		} else {
			matched[i] = []string{p}
		}
		for _, n := range matched[i] {
			// Only a log can have generations: a directory logs/mysql
			// must not hide logs/mysql.log.
			if fi, err := os.Stat(n); err == nil && fi.Mode().IsRegular() {
				all[n] = true
			}
		}
	}
	// A followed name counts while its follower runs, although its file
	// may be missing for a moment (renamed away, its successor not yet
	// created): its generations are still its.
	for n, f := range d.followers {
		select {
		case <-f.done:
		default:
			all[n] = true
		}
	}
	for i, p := range s.opt.Paths {
		glob := isGlob(p)
		names := matched[i]
		sort.Strings(names)
		for _, name := range names {
			if f, ok := d.followers[name]; ok {
				select {
				case <-f.done:
					delete(d.followers, name) // released: deleted file
				default:
					continue
				}
			}
			if glob && !d.wanted(name, all) {
				continue
			}
			f := s.newFollower(name, !glob, d.first)
			d.followers[name] = f
			d.watch(f.dir)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				f.run(ctx)
			}()
		}
		if glob {
			if dir := filepath.Dir(p); !isGlob(dir) {
				d.watch(dir)
			}
		}
	}
	d.first = false
}

// wanted reports whether a name a glob matched is a file to follow: a
// regular file, not compressed, that no follower holds already.
func (d *discovery) wanted(name string, all map[string]bool) bool {
	fi, err := os.Stat(name)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if head := d.generationOf(name, all); head != "" {
		if !d.logged[name] {
			d.s.opt.Log.Info("a rotated generation matches; it is read through the follower of the file it was rotated from, when it holds lines that one has not read",
				"file", name, "rotated_from", head)
			d.logged[name] = true
		}
		return false
	}
	if compressedName(name) || hasGzipMagic(name) {
		if !d.logged[name] {
			d.s.opt.Log.Info("a compressed file matches; it is read only as a rotated generation of a followed file, never as lines of its own", "file", name)
			d.logged[name] = true
		}
		return false
	}
	if d.s.reg.isHeld(fi) {
		// Another name of a file being read: a rotated name the glob
		// matches too, or a link. Its follower reads it; should it let
		// the file go, this name is followed from where it stopped.
		return false
	}
	return true
}

func (d *discovery) watch(dir string) {
	if d.watcher == nil || d.watched[dir] {
		return
	}
	if err := d.watcher.Add(dir); err != nil {
		d.s.opt.Log.Debug("cannot watch directory; polling it", "dir", dir, "err", err)
	}
	d.watched[dir] = true
}

// compressedName tells a compressed file by its name.
func compressedName(name string) bool {
	return strings.HasSuffix(name, ".gz") || compressedOtherwise(name)
}

// generationOf returns the name among all that name is a rotated name of
// (per Options.Rotated), or "".
func (d *discovery) generationOf(name string, all map[string]bool) string {
	for _, pat := range d.s.opt.Rotated {
		for head := range all {
			if head == name {
				continue
			}
			if strings.HasPrefix(pat, "{path}") && !strings.HasPrefix(name, head) {
				continue // the common case, cheaply
			}
			if ok, _ := filepath.Match(strings.ReplaceAll(pat, "{path}", escapeGlob(head)), name); ok {
				return head
			}
		}
	}
	return ""
}

// escapeGlob quotes the characters filepath.Match treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
