//go:build linux

package pcsc

// The PC/SC library missing or wrong, seen through the built binary on this
// system: each case runs mfabridge in a private mount namespace (unshare -m,
// so nothing leaks to the host) where pcsc-lite's library is hidden or
// replaced by a bind mount. A PC/SC command must name the library and the
// problem; commands that need no PC/SC must work as usual.

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// realPCSCLite is the file this process loaded as libpcsclite.so.1.
func realPCSCLite(t *testing.T) string {
	t.Helper()
	if _, err := loadLib(); err != nil {
		skipOrFail(t, "pcsc-lite's library cannot be loaded here (apt-get install libpcsclite1): "+err.Error())
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(maps)) {
		if i := strings.Index(line, "/"); i >= 0 && strings.Contains(line, "libpcsclite") {
			return strings.TrimSpace(line[i:])
		}
	}
	t.Fatal("libpcsclite is loaded but not in /proc/self/maps")
	return ""
}

// needNamespaces checks that this test may run unshare -m and mount.
func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root for a private mount namespace (unshare -m)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare is not installed (apt-get install util-linux)")
	}
	if out, err := exec.Command("unshare", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("cannot create a mount namespace: %v: %s", err, out))
	}
}

// nsRun runs the CLI with the bind mounts (source, target) in a private
// mount namespace of its own.
func nsRun(t *testing.T, mounts [][2]string, env []string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	script := "set -e\n"
	for _, m := range mounts {
		script += fmt.Sprintf("mount --bind '%s' '%s'\n", m[0], m[1])
	}
	script += `exec "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", buildCLI(t)}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "MFABRIDGE_TTY=none"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// patched writes a copy of src with bytes at off replaced.
func patched(t *testing.T, src, dst string, off int, with []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[off:], with)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// otherMachine is an ELF machine (little-endian e_machine) this program
// cannot load.
func otherMachine() (elf.Machine, []byte) {
	if runtime.GOARCH == "arm64" {
		return elf.EM_X86_64, []byte{0x3E, 0x00}
	}
	return elf.EM_AARCH64, []byte{0xB7, 0x00}
}

// hiddenLibDir is a copy of the directory holding libpcsclite with only
// what the binary itself needs (libc and the dynamic loader), to bind over
// the original: libpcsclite.so.1 is then absent, as on a machine without
// pcsc-lite.
func hiddenLibDir(t *testing.T, libDir string) string {
	t.Helper()
	out, err := exec.Command("ldd", buildCLI(t)).Output()
	if err != nil {
		skipOrFail(t, fmt.Sprintf("ldd %s: %v (the binary must be dynamically linked: purego)", buildCLI(t), err))
	}
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(libDir)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		for f := range strings.FieldsSeq(line) {
			if !strings.HasPrefix(f, "/") {
				continue
			}
			real, err := filepath.EvalSymlinks(f)
			if err != nil || filepath.Dir(real) != realDir {
				continue
			}
			copyFile(t, real, filepath.Join(dir, filepath.Base(f)))
			if filepath.Base(real) != filepath.Base(f) {
				copyFile(t, real, filepath.Join(dir, filepath.Base(real)))
			}
		}
	}
	return dir
}

func TestStackLibraryMissingOrWrong(t *testing.T) {
	needNamespaces(t)
	real := realPCSCLite(t)
	libDir := filepath.Dir(real)
	tmp := t.TempDir()
	machine, machineBytes := otherMachine()
	notELF := filepath.Join(tmp, "not-elf.so")
	if err := os.WriteFile(notELF, []byte("this is not a shared library, but long enough to have an ELF header\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSym, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(noSym, []byte("SCardTransmit\x00"))
	if i < 0 {
		t.Fatalf("%s has no SCardTransmit in its string table", real)
	}
	noSymPath := patched(t, real, filepath.Join(tmp, "nosym.so"), i, []byte("SCardTransmiX"))

	cases := []struct {
		name    string
		mount   [2]string
		want    []string
		missing bool
	}{
		{"absent", [2]string{hiddenLibDir(t, libDir), libDir}, []string{
			"load the PC/SC library libpcsclite.so.1: not found",
			"apt-get install libpcsclite1 pcscd"}, true},
		{"other architecture", [2]string{patched(t, real, filepath.Join(tmp, "arch.so"), 18, machineBytes), real}, []string{
			"load the PC/SC library libpcsclite.so.1 (" + libDir,
			fmt.Sprintf("built for %s (ELFCLASS64), this program is %s", strings.TrimPrefix(machine.String(), "EM_"), runtime.GOARCH),
			"apt-get install --reinstall libpcsclite1"}, false},
		{"32-bit", [2]string{patched(t, real, filepath.Join(tmp, "class.so"), 4, []byte{1}), real}, []string{
			"load the PC/SC library libpcsclite.so.1",
			"wrong ELF class (a library for a 32-bit system)",
			"apt-get install --reinstall libpcsclite1"}, false},
		{"not ELF", [2]string{notELF, real}, []string{
			"load the PC/SC library libpcsclite.so.1 (",
			"not a shared library",
			"apt-get install --reinstall libpcsclite1"}, false},
		{"empty", [2]string{"/dev/null", real}, []string{
			"load the PC/SC library libpcsclite.so.1 (",
			"not a shared library"}, false},
		{"missing function", [2]string{noSymPath, real}, []string{
			"load the PC/SC library libpcsclite.so.1: it has no function SCardTransmit (not PC/SC, or a version too old)",
			"undefined symbol: SCardTransmit"}, false},
	}
	secret := base32.StdEncoding.EncodeToString(rfcSecret)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mounts := [][2]string{tc.mount}
			home := t.TempDir()
			env := []string{"HOME=" + home}
			for _, args := range [][]string{{"devices"}, {"accounts", "list", "--device", "yubikey"}} {
				out, stderr, err := nsRun(t, mounts, env, "", args...)
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatalf("%v: want a failure exit, got %v\n%s%s", args, err, out, stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, w, stderr)
					}
				}
				// The error, then the advice on a line of its own (issue 12).
				if !strings.HasPrefix(stderr, "mfabridge: error: ") || strings.Count(stderr, "load the PC/SC library") != 1 ||
					!strings.Contains(stderr, "\nmfabridge: hint: ") {
					t.Errorf("%v: want one library error and its hint:\n%s", args, stderr)
				}
			}

			// Everything without PC/SC works in the same environment.
			key := filepath.Join(home, "key.json")
			cfg := filepath.Join(home, "config")
			if err := os.WriteFile(cfg, []byte("[profile alice]\nregion = us-east-1\n\n[profile prod]\n"+
				"role_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole\nsource_profile = alice\n"+
				"mfa_serial = arn:aws:iam::111111111111:mfa/alice\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// Test-only placeholder keys: plan reads them but calls nothing.
			if err := os.WriteFile(filepath.Join(home, "credentials"), []byte("[alice]\naws_access_key_id = AKIAALICE00000000001\n"+
				"aws_secret_access_key = alice-secret-access-key-0000000000000000\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
				"MFABRIDGE_DEVICE=sim:"+key)
			steps := []struct {
				stdin string
				args  []string
				want  string
			}{
				{"", []string{"sim", "init", key, "--serial", "55555555"}, "sim:" + key},
				{secret + "\n", []string{"accounts", "add", "--digits", "8", "RFC:sha1"}, ""},
				{"", []string{"accounts", "code", "--device", "sim:" + key, "--at", "59", "RFC:sha1"}, "94287082"},
				{"", []string{"plan", "prod"}, "GetSessionToken"},
			}
			for _, st := range steps {
				out, stderr, err := nsRun(t, mounts, env, st.stdin, st.args...)
				if err != nil || !strings.Contains(out, st.want) {
					t.Errorf("%v with the PC/SC library %s: %v\nstdout: %s\nstderr: %s", st.args, tc.name, err, out, stderr)
				}
				if strings.Contains(stderr, "PC/SC") {
					t.Errorf("%v mentions PC/SC: %s", st.args, stderr)
				}
			}
		})
	}

	// The host kept its library: the namespaces did not leak.
	if f, err := os.Open(real); err != nil {
		t.Fatal(err)
	} else {
		head := make([]byte, 4)
		_, err := io.ReadFull(f, head)
		f.Close()
		if err != nil || string(head) != "\x7fELF" {
			t.Fatalf("%s on the host is no longer the library: %q, %v", real, head, err)
		}
	}
}

// pcsc_stringify_error is found and used for codes this package has no
// name for.
func TestStackStringify(t *testing.T) {
	realPCSCLite(t)
	if got := stringifyCode(codeNoService); got != "Service not available." {
		t.Errorf("pcsc_stringify_error(SCARD_E_NO_SERVICE) = %q", got)
	}
	err := &PCSCError{Op: "transmit", Code: 0x80100099}
	if want := "transmit: PC/SC error: " + stringifyCode(0x80100099) + " (0x80100099)"; err.Error() != want || !strings.Contains(want, "99") {
		t.Errorf("unknown code: %q, want %q", err, want)
	}
}
