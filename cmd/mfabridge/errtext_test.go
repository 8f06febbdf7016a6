package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Issue 12: advice that names this command, its flags, its environment
// variables or another tool's command lives in cmd (hints.go); the
// packages below cmd return short errors with typed causes. This test
// reads their sources: no string that goes into an error, a hint or a
// notice may name one of those.

// cliWords is the pattern of what only cmd may say: `mfabridge SUB` for
// every subcommand, --FLAG for every flag of the command tree, the
// environment variables of mfabridge and of the AWS CLI, and commands of
// other tools.
func cliWords(t *testing.T) *regexp.Regexp {
	t.Helper()
	root := (&app{}).rootCmd()
	subs, flags := map[string]bool{}, map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		}
		for _, s := range c.Commands() {
			if c == root {
				subs[s.Name()] = true
			}
			walk(s)
		}
	}
	walk(root)
	if !subs["sim"] || !subs["accounts"] || !flags["device"] || !flags["profile"] {
		t.Fatalf("the command tree lacks sim, accounts, --device or --profile: %v %v", subs, flags)
	}
	return regexp.MustCompile(`\bmfabridge (` + alternation(subs) + `)\b|(^|[^-\w])--(` + alternation(flags) + `)([^-\w]|$)|` +
		`MFABRIDGE_[A-Z]|AWS_[A-Z]|\bykman |\bapt-get\b|\bgpgconf\b|\baws (iam|sts) `)
}

func alternation(set map[string]bool) string {
	var words []string
	for w := range set {
		words = append(words, regexp.QuoteMeta(w))
	}
	sort.Slice(words, func(i, j int) bool { return len(words[i]) > len(words[j]) })
	return strings.Join(words, "|")
}

// errorText is a string literal that reaches an error, a hint or a notice,
// and where it is.
type errorText struct {
	pos  token.Position
	text string
}

// errorFields are the fields of error (and notice, leftover) types that
// hold words for the user.
var errorFields = map[string]bool{"Detail": true, "Fix": true, "Hint": true, "Msg": true, "Message": true,
	"Problem": true, "Cause": true, "What": true, "Reason": true}

// errorTexts returns the string literals of file that go into errors:
// arguments of errors.New and fmt.Errorf, values of the error fields
// above (in composite literals and assignments), everything an Error,
// Hint or String method returns, and arguments of notice hooks (Notice,
// notify). Identifiers of the package's string constants count as their
// value, and calls of the package's functions and methods as their
// bodies.
func errorTexts(fset *token.FileSet, file *ast.File, pkg *pkgDecls) []errorText {
	var out []errorText
	seen := map[string]bool{}
	var collect func(n ast.Node)
	collect = func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && pkg.funcs[id.Name] != nil && !seen[id.Name] {
					seen[id.Name] = true
					collect(pkg.funcs[id.Name].Body)
				}
				// x.m(): every method m of the package (the receiver's
				// type is not resolved here).
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && !seen["."+sel.Sel.Name] {
					seen["."+sel.Sel.Name] = true
					for _, m := range pkg.methods[sel.Sel.Name] {
						collect(m.Body)
					}
				}
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					if s, err := strconv.Unquote(x.Value); err == nil {
						out = append(out, errorText{fset.Position(x.Pos()), s})
					}
				}
			case *ast.Ident:
				if s, ok := pkg.consts[x.Name]; ok {
					out = append(out, errorText{fset.Position(x.Pos()), s})
				}
			}
			return true
		})
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			if x.Recv != nil && x.Body != nil && (x.Name.Name == "Error" || x.Name.Name == "Hint" || x.Name.Name == "String") {
				collect(x.Body)
				return false
			}
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
				pkg, _ := sel.X.(*ast.Ident)
				switch {
				case pkg != nil && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf"),
					sel.Sel.Name == "Notice", sel.Sel.Name == "notify":
					for _, a := range x.Args {
						collect(a)
					}
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := x.Key.(*ast.Ident); ok && errorFields[k.Name] {
				collect(x.Value)
			}
		case *ast.AssignStmt:
			for i, l := range x.Lhs {
				if sel, ok := l.(*ast.SelectorExpr); ok && errorFields[sel.Sel.Name] && i < len(x.Rhs) {
					collect(x.Rhs[i])
				}
			}
		}
		return true
	})
	return out
}

// pkgDecls are a package's string constants and functions (not methods).
type pkgDecls struct {
	consts  map[string]string
	funcs   map[string]*ast.FuncDecl
	methods map[string][]*ast.FuncDecl // by name, whatever the receiver
}

func declsOf(files []*ast.File) *pkgDecls {
	consts, funcs, methods := map[string]string{}, map[string]*ast.FuncDecl{}, map[string][]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fd.Recv == nil {
					funcs[fd.Name.Name] = fd
				} else {
					methods[fd.Name.Name] = append(methods[fd.Name.Name], fd)
				}
			}
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							consts[name.Name] = s
						}
					}
				}
			}
		}
	}
	return &pkgDecls{consts: consts, funcs: funcs, methods: methods}
}

// libraryViolations parses every non-test Go file of the packages below
// cmd under root and returns the error texts that match words.
func libraryViolations(t *testing.T, root string, words *regexp.Regexp) (violations []string, scanned int) {
	t.Helper()
	byDir := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "cmd", "bench", ".git":
				return filepath.SkipDir // cmd words advice; bench is a test harness
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") && strings.Contains(rel, string(filepath.Separator)) {
			byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, paths := range byDir {
		var files []*ast.File
		for _, p := range paths {
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		decls := declsOf(files)
		for _, f := range files {
			scanned++
			for _, et := range errorTexts(fset, f, decls) {
				if m := words.FindString(et.text); m != "" {
					rel, _ := filepath.Rel(root, et.pos.Filename)
					violations = append(violations, rel+":"+strconv.Itoa(et.pos.Line)+": "+strconv.Quote(m)+" in "+strconv.Quote(et.text))
				}
			}
		}
	}
	sort.Strings(violations)
	return slices.Compact(violations), scanned
}

// TestLibraryErrorsNameNoCLI is issue 12's acceptance: no package below
// cmd mentions a CLI command, flag or environment variable in an error.
func TestLibraryErrorsNameNoCLI(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	violations, scanned := libraryViolations(t, root, cliWords(t))
	if scanned < 50 {
		t.Fatalf("scanned %d files: the walk missed the libraries", scanned)
	}
	for _, v := range violations {
		t.Errorf("advice for the CLI in a library error (move it to cmd/mfabridge/hints.go): %s", v)
	}
}

// TestErrorTextsFinds: the scanner sees each kind of place an error text
// hides in, and the pattern catches each kind of CLI word (so that the
// test above cannot pass by finding nothing).
func TestErrorTextsFinds(t *testing.T) {
	const src = `package p

const advice = "set MFABRIDGE_DEVICE"

type E struct{ Fix string }

func (E) Error() string { return "run ` + "`mfabridge sim init`" + `" }
func (E) Hint() string  { return "ykman oath access change" }

func f(h func(string), e *E) error {
	h("not an error: mfabridge accounts add")
	e.Fix = "apt-get install pcscd"
	_ = E{Fix: "pass --profile"}
	_ = E{Fix: "aws iam deactivate-mfa-device --user-name x"}
	_ = fmt.Errorf("x: %w; " + advice, err)
	ui.notify("gpgconf --kill scdaemon")
	return errors.New(how())
}

func how() string { return "export AWS_REGION" }

type F struct{}

func (f F) Error() string { return f.why() }
func (F) why() string    { return "pass --device" }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	words := cliWords(t)
	var got []string
	for _, et := range errorTexts(fset, f, declsOf([]*ast.File{f})) {
		if m := words.FindString(et.text); m != "" {
			got = append(got, strings.Trim(m, " `\""))
		}
	}
	sort.Strings(got)
	want := []string{"--device", "--profile", "AWS_R", "MFABRIDGE_D", "apt-get", "aws iam", "gpgconf", "mfabridge sim", "ykman"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("found %q, want %q", got, want)
	}
	for _, ok := range []string{"mfabridge simulator PIV attestation", "mfabridge does not change it", "a flag-like --x-device",
		"the mfabridge build for this machine", "credential_process = mfabridge"} {
		if m := words.FindString(ok); m != "" {
			t.Errorf("%q matched %q", ok, m)
		}
	}
}
