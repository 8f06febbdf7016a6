package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeadcodeElimination: the linker drops the unused methods of the AWS
// SDK clients (the IAM client has some 180 operations, mfabridge uses 10).
// It cannot when reflect.Value.MethodByName is reachable (text/template
// makes it so, and cobra uses text/template for SetVersionTemplate and the
// other Set*Template calls): the binary then grows by 10 MB and 600 itabs
// that every start pays for, a cached credential-process included (issue
// 12; see versionInfo.flagVersion).
func TestDeadcodeElimination(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the ELF symbol table")
	}
	bin := filepath.Join(t.TempDir(), "mfabridge")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	used, unused := false, false
	for _, s := range syms {
		switch {
		case strings.HasPrefix(s.Name, "reflect.") && strings.HasSuffix(s.Name, ".MethodByName"):
			t.Errorf("%s is linked: exported methods are kept whether used or not", s.Name)
		case strings.HasPrefix(s.Name, "debug/elf.") || strings.HasPrefix(s.Name, "debug/dwarf.") || strings.HasPrefix(s.Name, "internal/zstd."):
			// pcsc reads the 20-byte ELF header itself: these packages'
			// initialisation ran before the warm path at every start.
			t.Errorf("%s is linked: pcsc's ELF check must not use debug/elf", s.Name)
		case s.Name == "github.com/aws/aws-sdk-go-v2/service/iam.(*Client).ListMFADevices":
			used = true
		case s.Name == "github.com/aws/aws-sdk-go-v2/service/iam.(*Client).UploadSSHPublicKey":
			unused = true
		}
	}
	if !used {
		t.Error("iam.(*Client).ListMFADevices is not in the symbol table: the check does not see what it should")
	}
	if unused {
		t.Error("iam.(*Client).UploadSSHPublicKey, which mfabridge never calls, is linked")
	}
}
