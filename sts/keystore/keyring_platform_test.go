package keystore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedKeyring is the go-keyring version whose platform code these tests
// read; go.mod pins it. v0.2.8's keyring_darwin.go Set runs
// `/usr/bin/security -i` and writes "add-generic-password -U -s … -a … -w
// <secret>" to its standard input, so the secret never appears in argv
// (visible to every user through ps). Bumping go-keyring must re-run this.
const pinnedKeyring = "v0.2.8"

func keyringModule(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", "github.com/zalando/go-keyring").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version != pinnedKeyring || dir == "" {
		t.Fatalf("go-keyring %s (%q) is required, these checks were written for %s: re-read its keyring_darwin.go and keyring_windows.go", version, dir, pinnedKeyring)
	}
	return dir
}

// On macOS no `security` command line carries the secret: every
// exec.Command in go-keyring's darwin provider gets only constants and the
// service and account names, and Set hands the password to the child's
// standard input.
func TestKeychainSecretNotInArgv(t *testing.T) {
	dir := keyringModule(t)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "keyring_darwin.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	commands, stdinWrites := 0, 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch callName(call) {
		case "exec.Command":
			commands++
			for _, a := range call.Args {
				ast.Inspect(a, func(m ast.Node) bool {
					if id, ok := m.(*ast.Ident); ok && (id.Name == "password" || id.Name == "command") {
						t.Errorf("%s: exec.Command argument uses %s", fset.Position(id.Pos()), id.Name)
					}
					return true
				})
			}
		case "io.WriteString":
			if len(call.Args) == 2 && identName(call.Args[0]) == "stdIn" && identName(call.Args[1]) == "command" {
				stdinWrites++
			}
		}
		return true
	})
	if commands < 3 || stdinWrites != 1 {
		t.Fatalf("keyring_darwin.go: %d exec.Command calls, %d writes of the command to stdin: the file changed shape", commands, stdinWrites)
	}
	src, _ := os.ReadFile(filepath.Join(dir, "keyring_darwin.go"))
	if !strings.Contains(string(src), `exec.Command(execPathKeychain, "-i")`) || !strings.Contains(string(src), "-w %s") {
		t.Fatal("keyring_darwin.go no longer runs `security -i` with the password in the stdin command")
	}
}

// On Windows go-keyring calls CredWriteW/CredReadW (danieljoos/wincred):
// no process is started at all.
func TestWindowsCredentialManagerStartsNoProcess(t *testing.T) {
	keyringModule(t)
	cmd := exec.Command("go", "list", "-deps", "github.com/zalando/go-keyring")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	has := map[string]bool{}
	for _, d := range deps {
		has[d] = true
	}
	if has["os/exec"] || !has["github.com/danieljoos/wincred"] {
		t.Fatalf("windows deps of go-keyring: os/exec %v, wincred %v", has["os/exec"], has["github.com/danieljoos/wincred"])
	}
}

func callName(c *ast.CallExpr) string {
	if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
		return identName(sel.X) + "." + sel.Sel.Name
	}
	return ""
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
