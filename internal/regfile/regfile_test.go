package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ok, link} {
		got, err := Read(p, 10)
		if err != nil || string(got) != "[default]\n" {
			t.Errorf("Read(%s) = %q, %v", p, got, err)
		}
	}
	tests := []struct {
		path string
		want error
		msg  string
	}{
		{big, ErrTooLarge, "11 bytes, the limit is 10"},
		{dir, ErrNotRegular, "a directory"},
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "missing"},
	}
	for _, tt := range tests {
		_, err := Read(tt.path, 10)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("Read(%s) = %v, want %v with %q", tt.path, err, tt.want, tt.msg)
		}
	}
}
