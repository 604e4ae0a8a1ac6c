package follow

import (
	"os"
	"sync"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
)

// fileKey is a file's device and inode: who a file is while it is open,
// since an inode number is never reused while a descriptor holds it.
type fileKey struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) fileKey {
	d, i := devIno(fi)
	return fileKey{d, i}
}

// readMark is how far a file no follower holds open was read: its
// identity (first bytes) and the bytes just before the offset. A file
// found under any name whose key, first bytes and marker all match is
// the same file and goes on at offset; a key whose first bytes or marker
// differ is an inode reused by a new file, read from its start.
type readMark struct {
	id     checkpoint.Identity
	offset int64
	marker checkpoint.Marker
	at     time.Time // when recorded: marks are kept for markTTL
}

// markTTL is how long a read mark is kept. A file let go is met again
// under another name within moments (the next poll matches the globs
// again) or at a restart, which the checkpoints cover; marks older than
// this are dropped so that months of rotations do not pile up.
const markTTL = 24 * time.Hour

// registry is what the Source knows of files by identity, shared by
// every follower: which follower holds a file, so that no file is read by
// two followers whatever names it has (a glob matching rotated names, a
// symlink beside its target), and how far the files let go were read, so
// that a file met again under another name goes on where it stopped
// instead of being read again. Checkpoints seed the read marks at start,
// so that this holds across a restart too.
type registry struct {
	mu    sync.Mutex
	owner map[fileKey]*follower
	held  map[*follower]map[fileKey]bool
	read  map[fileKey]readMark
	// swept is when old read marks were last dropped.
	swept time.Time
}

func newRegistry() *registry {
	return &registry{owner: map[fileKey]*follower{}, held: map[*follower]map[fileKey]bool{}, read: map[fileKey]readMark{}, swept: time.Now()}
}

// seed records the read marks checkpoints hold; of two entries naming one
// file, the one further on wins.
func (g *registry) seed(ents []checkpoint.Entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range ents {
		k := fileKey{e.File.Dev, e.File.Ino}
		if old, ok := g.read[k]; ok && old.id == e.File && old.offset >= e.Offset {
			continue
		}
		g.read[k] = readMark{id: e.File, offset: e.Offset, marker: e.Marker, at: time.Now()}
	}
}

// claim makes f the holder of the file fi describes; false when another
// follower holds it already.
func (g *registry) claim(f *follower, fi os.FileInfo) bool {
	k := keyOf(fi)
	g.mu.Lock()
	defer g.mu.Unlock()
	if o, ok := g.owner[k]; ok && o != f {
		return false
	}
	g.owner[k] = f
	if g.held[f] == nil {
		g.held[f] = map[fileKey]bool{}
	}
	g.held[f][k] = true
	return true
}

// heldByOther reports whether a follower other than f holds the file.
func (g *registry) heldByOther(f *follower, fi os.FileInfo) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	o, ok := g.owner[keyOf(fi)]
	return ok && o != f
}

// held reports whether any follower holds the file.
func (g *registry) isHeld(fi os.FileInfo) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.owner[keyOf(fi)]
	return ok
}

// keep releases every file f holds but those in keep.
func (g *registry) keep(f *follower, keep map[fileKey]bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.held[f] {
		if !keep[k] {
			delete(g.held[f], k)
			if g.owner[k] == f {
				delete(g.owner, k)
			}
		}
	}
	if len(g.held[f]) == 0 {
		delete(g.held, f)
	}
}

// readTo records how far a file let go was read.
func (g *registry) readTo(k fileKey, m readMark) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.read[k]; ok && old.id.FPHash == m.id.FPHash && old.offset > m.offset {
		return
	}
	m.at = time.Now()
	g.read[k] = m
	if m.at.Sub(g.swept) >= markTTL/24 {
		g.swept = m.at
		for k, o := range g.read {
			if m.at.Sub(o.at) >= markTTL {
				delete(g.read, k)
			}
		}
	}
}

// known returns where reading goes on in file if it is a file read
// before: its key, first bytes and the bytes before the offset all match
// a read mark. reused reports a key known with other content: its inode
// was given to a new file, which is read from its start.
func (g *registry) known(file *os.File, fi os.FileInfo) (offset int64, ok, reused bool) {
	k := keyOf(fi)
	g.mu.Lock()
	m, found := g.read[k]
	g.mu.Unlock()
	if !found {
		return 0, false, false
	}
	if fi.Size() < m.offset {
		return 0, false, true
	}
	if same, _ := m.id.Matches(file); !same {
		return 0, false, true
	}
	if same, _ := m.marker.Matches(file, m.offset); !same {
		return 0, false, true
	}
	return m.offset, true, false
}

// forget drops the read mark of a file deleted for good.
func (g *registry) forget(k fileKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.read, k)
}

// markOf makes the read mark of file read to pos, fp its first bytes.
func markOf(file *os.File, fp []byte, pos int64) readMark {
	m := readMark{offset: pos, id: checkpoint.Identity{FPLen: len(fp)}}
	if fi, err := file.Stat(); err == nil {
		m.id.Dev, m.id.Ino = devIno(fi)
	}
	if len(fp) > 0 {
		m.id.FPHash = checkpoint.Fingerprint(fp)
	}
	m.marker = markerAt(file, pos)
	return m
}

// markerAt is the marker of the bytes just before pos in file.
func markerAt(file *os.File, pos int64) checkpoint.Marker {
	n := min(pos, checkpoint.MarkerLen)
	if n <= 0 {
		return checkpoint.Marker{}
	}
	buf := make([]byte, n)
	if got, _ := file.ReadAt(buf, pos-n); int64(got) != n {
		return checkpoint.Marker{}
	}
	return checkpoint.MarkerOf(buf)
}
