package simulator

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplay runs the APDU transcripts in testdata/replay: lines "> APDU"
// are sent, the following "< ANSWER" must match exactly (hex, spaces
// ignored, "quoted" text as ASCII). "fw X.Y.Z" on its own line sets the
// firmware of the fresh card (serial 12345678, salt 00×8, counting
// challenges 00 01 02 …) the transcript starts with; "#" starts a comment.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/replay/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { replay(t, f) })
	}
}

func replay(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c *Card
	card := func() *Card {
		if c == nil {
			c = newTestCard(t, fw543)
		}
		return c
	}
	var last []byte
	var lastCmd string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "fw "):
			v, err := ParseVersion(strings.TrimSpace(line[3:]))
			if err != nil || c != nil {
				t.Fatalf("%s:%d: bad fw line (%v)", path, n, err)
			}
			c = newTestCard(t, v)
		case strings.HasPrefix(line, ">"):
			lastCmd = line
			last, err = card().Transmit(context.Background(), unhex(t, line[1:]))
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		case strings.HasPrefix(line, "<"):
			if want := unhex(t, line[1:]); !bytes.Equal(last, want) {
				t.Errorf("%s:%d: %s\n got  %X\n want %X", path, n, lastCmd, last, want)
			}
		default:
			t.Fatalf("%s:%d: cannot parse %q", path, n, line)
		}
	}
}
