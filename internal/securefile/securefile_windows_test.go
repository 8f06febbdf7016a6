//go:build windows

package securefile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Wine (Debian's 8.0, which CI runs these tests under) makes security
// descriptors up from Unix mode bits: the owner is the token user for files
// of the Unix user running Wine, the DACL always holds SYSTEM, holds
// Everyone when the mode has "other" bits, is never protected, and
// SetSecurityInfo cannot take Everyone away. It cannot create reparse
// points, and MoveFileEx fails while the target is open even with
// FILE_SHARE_DELETE. The tests below say where they expect Wine to differ;
// the descriptor logic itself is covered on built descriptors
// (TestCheckDescriptor), which behaves the same everywhere.
func isWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

func me(t *testing.T) *windows.SID {
	t.Helper()
	u, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func descriptorOf(t *testing.T, path string) *windows.SECURITY_DESCRIPTOR {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// TestCreatedDescriptors: what this package creates is owned by the user
// and private; on Windows its DACL is exactly the protected owner-only one.
func TestCreatedDescriptors(t *testing.T) {
	user := me(t)
	dir := filepath.Join(testDir(t), "cache")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "entry.json")
	lock := filepath.Join(dir, "x.lock")
	if err := WriteFile(file, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := EnsureFile(lock); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file, lock} {
		sd := descriptorOf(t, p)
		if err := checkDescriptor(p, sd, user, p == dir); err != nil {
			t.Errorf("%s: %v (%s)", p, err, sd)
		}
		owner, _, _ := sd.Owner()
		if !owner.Equals(user) {
			t.Errorf("%s: owner %v, want %v", p, owner, user)
		}
		want := privateSDDL(user, p == dir)
		if isWine() {
			// Wine: the same owner; SYSTEM added, P dropped, no Everyone.
			if s := sd.String(); strings.Contains(s, ";WD)") || !strings.Contains(s, ";FA;;;"+user.String()+")") {
				t.Errorf("%s under Wine: %s, want %s plus SYSTEM", p, s, want)
			}
			continue
		}
		if s := sd.String(); s != want {
			t.Errorf("%s: descriptor %s, want %s", p, s, want)
		}
	}
}

// grantEveryoneRead gives Everyone read access to path, as a careless copy
// or an inherited folder DACL would.
func grantEveryoneRead(t *testing.T, path string, dir bool) {
	t.Helper()
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	u := me(t).String()
	sd, err := windows.SecurityDescriptorFromString("D:(A;" + inherit + ";FA;;;" + u + ")(A;" + inherit + ";FR;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, _ := sd.DACL()
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION|windows.UNPROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
	if s := descriptorOf(t, path).String(); !strings.Contains(s, ";WD)") {
		t.Fatalf("%s: Everyone not granted: %s", path, s)
	}
}

func TestEveryoneReadableRefused(t *testing.T) {
	dir := filepath.Join(testDir(t), "cache")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "entry.json")
	WriteFile(file, []byte("secret"))
	grantEveryoneRead(t, file, false)
	_, err := ReadFile(file, 10)
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "read access") || !strings.Contains(err.Error(), "S-1-1-0") {
		t.Fatalf("ReadFile of an Everyone-readable file: %v", err)
	}
	if !strings.Contains(FixOf(err), "icacls") {
		t.Errorf("fix %q does not say how", FixOf(err))
	}
	// WriteFile replaces it with a private one.
	if err := WriteFile(file, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(file, 10); err != nil || string(b) != "new" {
		t.Fatalf("after rewrite: %q, %v", b, err)
	}
}

// TestLooseDirRestricted: a directory of ours that Everyone may read is
// restricted to us by EnsureDir. Wine cannot take Everyone away, so there
// EnsureDir must say that it tried and failed.
func TestLooseDirRestricted(t *testing.T) {
	dir := filepath.Join(testDir(t), "cache")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	grantEveryoneRead(t, dir, true)
	if err := CheckDir(dir, nil); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("CheckDir of an Everyone-readable directory: %v", err)
	}
	// Issue 13 case 1: a folder that holds files not ours is left alone.
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(dir, nil); !errors.Is(err, ErrShared) {
		t.Fatalf("EnsureDir of a loose folder holding notes.txt: %v, want ErrShared", err)
	}
	if err := CheckDir(dir, nil); !errors.Is(err, ErrShared) || !strings.Contains(err.Error(), "Everyone") {
		t.Fatalf("the shared folder was changed (its DACL should still grant Everyone): CheckDir says %v", err)
	}
	os.Remove(notes)
	err := EnsureDir(dir, nil)
	if isWine() {
		if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "restricting it to you had no effect") {
			t.Fatalf("EnsureDir under Wine: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if s, want := descriptorOf(t, dir).String(), privateSDDL(me(t), true); s != want {
		t.Errorf("after EnsureDir: %s, want %s", s, want)
	}
}

// TestReplaceWhileReaderOpen: a reader of ours (FILE_SHARE_DELETE) does not
// stop a writer. Windows 10+ renames over it at once (POSIX semantics) and
// the reader keeps the old content; Wine refuses the rename while the file
// is open, so there the writer retries until the reader is done.
func TestReplaceWhileReaderOpen(t *testing.T) {
	dir := filepath.Join(testDir(t), "cache")
	EnsureDir(dir, nil)
	file := filepath.Join(dir, "entry.json")
	WriteFile(file, []byte("old"))
	h, err := open(file, windows.GENERIC_READ|windows.READ_CONTROL, windows.OPEN_EXISTING, nil)
	if err != nil {
		t.Fatal(err)
	}
	reader := os.NewFile(uintptr(h), file)
	defer reader.Close()
	retries := 0
	busyHook = func() {
		retries++
		if retries == 1 {
			reader.Close()
		}
	}
	defer func() { busyHook = nil }()
	if err := WriteFile(file, []byte("new")); err != nil {
		t.Fatalf("WriteFile with a reader open: %v", err)
	}
	if b, err := ReadFile(file, 10); err != nil || string(b) != "new" {
		t.Fatalf("after replace: %q, %v", b, err)
	}
	switch {
	case isWine() && retries == 0:
		t.Error("Wine renamed over an open file: update the note above")
	case !isWine() && retries != 0:
		t.Errorf("replaced only after %d retries: POSIX rename not used", retries)
	case !isWine():
		b := make([]byte, 10)
		n, _ := reader.Read(b)
		if string(b[:n]) != "old" {
			t.Errorf("open reader reads %q after the replace, want old", b[:n])
		}
	}
}

// TestReplaceRetriesForeignReader: a program that opened the file without
// FILE_SHARE_DELETE (Go's os.Open does) blocks the rename everywhere;
// WriteFile retries until it closes, and gives up with ErrBusy after
// replaceTimeout.
func TestReplaceRetriesForeignReader(t *testing.T) {
	dir := filepath.Join(testDir(t), "cache")
	EnsureDir(dir, nil)
	file := filepath.Join(dir, "entry.json")
	WriteFile(file, []byte("old"))
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	retries := 0
	busyHook = func() {
		retries++
		if retries == 3 {
			f.Close()
		}
	}
	defer func() { busyHook = nil }()
	if err := WriteFile(file, []byte("new")); err != nil || retries < 3 {
		t.Fatalf("WriteFile: %v after %d retries", err, retries)
	}
	if b, _ := ReadFile(file, 10); string(b) != "new" {
		t.Fatalf("after replace: %q", b)
	}

	f, err = os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	busyHook = nil
	defer func(d time.Duration) { replaceTimeout = d }(replaceTimeout)
	replaceTimeout = 50 * time.Millisecond
	err = WriteFile(file, []byte("newer"))
	if !errors.Is(err, ErrBusy) || !strings.Contains(FixOf(err), "close the program") {
		t.Fatalf("WriteFile with the file held: %v", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestJunctionRefused: a junction where the cache directory should be is
// refused, and so is a symbolic link to a file. Wine 8.0 cannot create
// either (mklink and os.Symlink report success and create nothing, or
// fail); checkAttributes is covered on attributes in TestCheckAttributes.
func TestJunctionRefused(t *testing.T) {
	if isWine() {
		t.Skip("Wine 8.0 cannot create reparse points; see TestCheckAttributes")
	}
	base := testDir(t)
	target := filepath.Join(base, "target")
	EnsureDir(target, nil)
	junction := filepath.Join(base, "junction")
	if out, err := exec.Command("cmd", "/c", "mklink", "/J", junction, target).CombinedOutput(); err != nil {
		t.Fatalf("mklink /J: %v: %s", err, out)
	}
	if err := EnsureDir(junction, nil); !errors.Is(err, ErrLink) || !strings.Contains(err.Error(), "junction") {
		t.Fatalf("EnsureDir of a junction: %v", err)
	}
	if err := CheckDir(junction, nil); !errors.Is(err, ErrLink) {
		t.Fatalf("CheckDir of a junction: %v", err)
	}
}

func TestCheckAttributes(t *testing.T) {
	const (
		file      = windows.FILE_ATTRIBUTE_ARCHIVE
		dir       = windows.FILE_ATTRIBUTE_DIRECTORY
		reparse   = windows.FILE_ATTRIBUTE_REPARSE_POINT
		hiddenDir = windows.FILE_ATTRIBUTE_DIRECTORY | windows.FILE_ATTRIBUTE_HIDDEN
	)
	for _, tt := range []struct {
		attrs   uint32
		wantDir bool
		want    error
	}{
		{file, false, nil},
		{windows.FILE_ATTRIBUTE_NORMAL, false, nil},
		{dir, true, nil},
		{hiddenDir, true, nil},
		{dir, false, ErrNotRegular},
		{file, true, ErrNotDir},
		{reparse | dir, true, ErrLink},   // junction, mount point, directory symlink
		{reparse | file, false, ErrLink}, // file symlink
		{reparse | dir, false, ErrLink},
	} {
		if err := checkAttributes("p", tt.attrs, tt.wantDir); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("attrs %#x dir %v: %v, want %v", tt.attrs, tt.wantDir, err, tt.want)
		}
	}
}

// TestCheckDescriptor runs the DACL and owner rules on built descriptors:
// cases no Wine file (and no unprivileged Windows test) can be put in.
func TestCheckDescriptor(t *testing.T) {
	user := me(t)
	u := user.String()
	other := "S-1-5-21-1-2-3-1001"
	for _, tt := range []struct {
		name string
		sddl string
		dir  bool
		want error
		text string
	}{
		{"what we create: file", privateSDDL(user, false), false, nil, ""},
		{"what we create: dir", privateSDDL(user, true), true, nil, ""},
		{"inherited, SYSTEM and Administrators", "O:" + u + "D:(A;ID;FA;;;" + u + ")(A;ID;FA;;;SY)(A;ID;FA;;;BA)", false, nil, ""},
		{"deny Everyone", "O:" + u + "D:P(D;;FA;;;WD)(A;;FA;;;" + u + ")", false, nil, ""},
		{"file: inherit-only ACE applies to nothing", "O:" + u + "D:P(A;;FA;;;" + u + ")(A;OICIIO;FA;;;WD)", false, nil, ""},
		{"dir: inherit-only ACE reaches new files", "O:" + u + "D:P(A;OICI;FA;;;" + u + ")(A;OICIIO;FR;;;WD)", true, ErrNotPrivate, "S-1-1-0"},
		{"foreign owner", "O:" + other + "D:P(A;;FA;;;" + u + ")", false, ErrForeign, other},
		{"owned by Administrators", "O:BAD:P(A;;FA;;;" + u + ")", false, ErrForeign, "S-1-5-32-544"},
		{"Everyone reads", "O:" + u + "D:P(A;;FA;;;" + u + ")(A;;FR;;;WD)", false, ErrNotPrivate, "read access"},
		{"Users write", "O:" + u + "D:P(A;;FA;;;" + u + ")(A;;FW;;;BU)", false, ErrNotPrivate, "write access"},
		{"Authenticated Users", "O:" + u + "D:(A;;FA;;;" + u + ")(A;;FA;;;AU)", false, ErrNotPrivate, "S-1-5-11"},
		{"another user", "O:" + u + "D:P(A;;FA;;;" + u + ")(A;;FR;;;" + other + ")", false, ErrNotPrivate, other},
		{"no DACL at all", "O:" + u, false, ErrNotPrivate, "no DACL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := windows.SecurityDescriptorFromString(tt.sddl)
			if err != nil {
				t.Fatalf("%s: %v", tt.sddl, err)
			}
			err = checkDescriptor(`C:\x`, sd, user, tt.dir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("%s: %v", tt.sddl, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), `C:\x: `) {
				t.Fatalf("%s: %v, want %v mentioning %q", tt.sddl, err, tt.want, tt.text)
			}
			if FixOf(err) == "" {
				t.Errorf("no fix for %v", err)
			}
		})
	}
}

// fileAllAccess is FILE_ALL_ACCESS, SDDL's "FA".
const fileAllAccess = 0x1f01ff

// TestCheckDescriptorBuilt: descriptors SDDL cannot spell everywhere (Wine's
// parser knows neither NULL DACLs nor callback ACEs), built by hand.
func TestCheckDescriptorBuilt(t *testing.T) {
	user := me(t)
	build := func(dacl *windows.ACL, present bool) *windows.SECURITY_DESCRIPTOR {
		sd, err := windows.NewSecurityDescriptor()
		if err != nil {
			t.Fatal(err)
		}
		if err := sd.SetOwner(user, false); err != nil {
			t.Fatal(err)
		}
		if err := sd.SetDACL(dacl, present, false); err != nil {
			t.Fatal(err)
		}
		return sd
	}
	// A NULL DACL grants everyone everything.
	err := checkDescriptor(`C:\x`, build(nil, true), user, false)
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "no DACL") {
		t.Errorf("NULL DACL: %v", err)
	}
	// An empty DACL grants nothing to anyone: private.
	if err := checkDescriptor(`C:\x`, build(rawACL(t, nil), true), user, false); err != nil {
		t.Errorf("empty DACL: %v", err)
	}
	// An ACE type this package does not know (a callback ACE, type 9)
	// is refused rather than guessed at.
	sid := (*[68]byte)(unsafe.Pointer(user))[:windows.GetLengthSid(user)]
	ace := append([]byte{9, 0, 0, 0, 0xff, 0x01, 0x1f, 0x00}, sid...)
	ace[2] = byte(len(ace))
	err = checkDescriptor(`C:\x`, build(rawACL(t, ace), true), user, false)
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "ACE of type 9") {
		t.Errorf("callback ACE: %v", err)
	}
}

// rawACL lays out an ACL (revision 2) holding the given ACE bytes.
func rawACL(t *testing.T, aces []byte) *windows.ACL {
	t.Helper()
	n := 8 + len(aces)
	words := make([]uint32, (n+3)/4)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*4)
	b[0] = 2 // ACL_REVISION
	b[2], b[3] = byte(len(b)), byte(len(b)>>8)
	if len(aces) > 0 {
		b[4] = 1
	}
	copy(b[8:], aces)
	return (*windows.ACL)(unsafe.Pointer(&b[0]))
}

// TestPrivateSDDL: the descriptor given to new files and directories.
func TestPrivateSDDL(t *testing.T) {
	user := me(t)
	for _, dir := range []bool{false, true} {
		sd, err := privateDescriptor(user, dir)
		if err != nil {
			t.Fatal(err)
		}
		control, _, _ := sd.Control()
		if control&windows.SE_DACL_PROTECTED == 0 {
			t.Errorf("dir %v: DACL not protected", dir)
		}
		dacl, _, _ := sd.DACL()
		if dacl == nil || dacl.AceCount != 1 {
			t.Fatalf("dir %v: DACL %v, want one ACE", dir, sd)
		}
		var ace *windows.ACCESS_ALLOWED_ACE
		windows.GetAce(dacl, 0, &ace)
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		inherit := ace.Header.AceFlags&(windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE) != 0
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !sid.Equals(user) || ace.Mask != fileAllAccess || inherit != dir {
			t.Errorf("dir %v: ACE %+v for %v", dir, ace.Header, sid)
		}
	}
}

// TestRenameInfoLayout: FILE_RENAME_INFO as the x64 and arm64 ABIs lay it
// out: Flags at 0, the handle at 8, FileNameLength at 16, the name at 20.
func TestRenameInfoLayout(t *testing.T) {
	buf, size, err := renameInfo(`C:\d\e.json`, fileRenameReplaceIfExists|fileRenamePOSIXSemantics)
	if err != nil {
		t.Fatal(err)
	}
	le32 := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	name := `C:\d\e.json`
	if got := le32(buf[0:]); got != 3 {
		t.Errorf("flags %#x", got)
	}
	if got := le32(buf[16:]); got != uint32(2*len(name)) {
		t.Errorf("FileNameLength %d", got)
	}
	if size != uint32(20+2*len(name)+2) {
		t.Errorf("size %d", size)
	}
	for i, r := range name {
		if got := uint16(buf[20+2*i]) | uint16(buf[21+2*i])<<8; got != uint16(r) {
			t.Fatalf("name[%d] = %q", i, rune(got))
		}
	}
}

// TestReplaceUnreplaceable: "access denied" from a target that is a
// directory is an answer, not a reason to wait. (A read-only target is
// treated the same, but Wine, unlike Windows, renames over it.)
func TestReplaceUnreplaceable(t *testing.T) {
	dir := filepath.Join(testDir(t), "cache")
	EnsureDir(dir, nil)
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(filepath.Join(sub, "x"), 0o700)
	busyHook = func() { t.Error("waited for a target that cannot be replaced") }
	defer func() { busyHook = nil }()
	err := WriteFile(sub, []byte("new"))
	var le *os.LinkError
	if !errors.As(err, &le) || errors.Is(err, ErrBusy) {
		t.Errorf("WriteFile over a directory: %v, want a rename error", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestReplaceWhileOtherProcessHoldsIt: the same as the two tests above with
// the reader in another process (this test binary, as holdHelper): with Go's
// os.Open (no FILE_SHARE_DELETE) the writer waits for it everywhere; with
// this package's share mode Windows replaces at once and Wine waits.
func TestReplaceWhileOtherProcessHoldsIt(t *testing.T) {
	for _, mode := range []string{"os.Open", "shareAll"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(testDir(t), "cache")
			EnsureDir(dir, nil)
			file := filepath.Join(dir, "entry.json")
			WriteFile(file, []byte("old"))
			cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHelper$")
			cmd.Env = append(os.Environ(), "SECUREFILE_HOLD="+file, "SECUREFILE_HOLD_MODE="+mode)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			line := make([]byte, 8)
			if n, err := io.ReadFull(stdout, line); err != nil || string(line[:n]) != "holding\n" {
				t.Fatalf("helper: %q, %v", line[:n], err)
			}
			retries := 0
			busyHook = func() {
				retries++
				if retries == 1 {
					stdin.Close() // the helper closes the file and exits
					cmd.Wait()
				}
			}
			defer func() { busyHook = nil }()
			if err := WriteFile(file, []byte("new")); err != nil {
				t.Fatalf("WriteFile while another process holds the file: %v", err)
			}
			if b, _ := ReadFile(file, 10); string(b) != "new" {
				t.Fatalf("after replace: %q", b)
			}
			if wantWait := mode == "os.Open" || isWine(); (retries > 0) != wantWait {
				t.Errorf("retries %d, want waiting %v", retries, wantWait)
			}
		})
	}
}

// TestHoldHelper holds $SECUREFILE_HOLD open until its stdin closes.
func TestHoldHelper(t *testing.T) {
	path := os.Getenv("SECUREFILE_HOLD")
	if path == "" {
		t.Skip("helper process for TestReplaceWhileOtherProcessHoldsIt")
	}
	var f io.Closer
	var err error
	if os.Getenv("SECUREFILE_HOLD_MODE") == "os.Open" {
		f, err = os.Open(path)
	} else {
		var h windows.Handle
		h, err = open(path, windows.GENERIC_READ, windows.OPEN_EXISTING, nil)
		f = os.NewFile(uintptr(h), path)
	}
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("holding\n")
	io.Copy(io.Discard, os.Stdin)
	f.Close()
}
