package main

import (
	"bufio"
	"debug/elf"
	"go/version"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The documented build (CGO_ENABLED=0) gives a static binary: no ELF
// interpreter, no shared libraries, so it runs on scratch or distroless
// images and any Linux host.
func TestStaticBinary(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary names an ELF interpreter: it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	res := runBin(t, strings.NewReader("x 898001\n"))
	if res.code != 0 || string(res.stdout) != "x 898001"+note898001+"\n" {
		t.Errorf("the static binary: exit %d, %q", res.code, res.stdout)
	}
}

// go.mod's go line is the lowest Go the build can use: the highest go
// line among the modules it requires (the code itself needs no newer
// language or library). A higher line would turn away toolchains that
// build it fine.
func TestGoLineIsTheLowestNeeded(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var ours string
	sc := bufio.NewScanner(strings.NewReader(string(mod)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go "); ok {
			ours = strings.TrimSpace(v)
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.GoVersion}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	need, by := "", ""
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || f[0] == "github.com/annotator-dev/annotator" {
			continue
		}
		if v := "go" + f[1]; need == "" || version.Compare(v, need) > 0 {
			need, by = v, f[0]
		}
	}
	if version.Compare("go"+ours, need) != 0 {
		t.Errorf("go.mod says go %s; the highest a dependency needs is %s (%s)", ours, need, by)
	}
}
