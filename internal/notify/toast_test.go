package notify

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"
)

// psUnquote reads the PowerShell single-quoted string at the start of s
// (a doubled quote is one quote; U+2018..U+201B are quotes too) and
// returns its value and the rest of s.
func psUnquote(t *testing.T, s string) (string, string) {
	t.Helper()
	isQuote := func(r rune) bool { return strings.ContainsRune("'\u2018\u2019\u201A\u201B", r) }
	rs := []rune(s)
	if len(rs) == 0 || !isQuote(rs[0]) {
		t.Fatalf("no quoted string at %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(rs); i++ {
		if isQuote(rs[i]) {
			if i+1 < len(rs) && isQuote(rs[i+1]) {
				b.WriteRune(rs[i])
				i++
				continue
			}
			return b.String(), string(rs[i+1:])
		}
		b.WriteRune(rs[i])
	}
	t.Fatalf("unterminated quoted string %q", s)
	return "", ""
}

// TestToastScript: the script is one ASCII line that PowerShell reads
// whole before anything else; the toast XML it loads, read back as
// PowerShell and an XML parser would, holds exactly the title, body and
// app name (quotes, markup, typographic quotes and line breaks included),
// so no text can end the string or add a statement. argv holds only the
// fixed flags.
func TestToastScript(t *testing.T) {
	title := "Touch <your> YubiKey & 'now'"
	body := "mfabridge waits for YubiKey 12345678 \u2018here\u2019; $(calc)\r\nline two \"x\" \u2026 \U0001F511"
	app := "mfa'bridge"
	s := toastScript(app, title, body, 90*time.Second)

	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("script is not one line ending in CRLF: %q", s)
	}
	for _, r := range s {
		if r > 0x7e || (r < 0x20 && r != '\r' && r != '\n') {
			t.Fatalf("script has non-ASCII or control rune %U: %q", r, s)
		}
	}
	_, rest, ok := strings.Cut(s, "$x.LoadXml(")
	if !ok {
		t.Fatalf("no LoadXml in %q", s)
	}
	doc, rest := psUnquote(t, rest)
	if !strings.HasPrefix(rest, "); ") {
		t.Fatalf("LoadXml's argument is not a single string: rest %q", rest)
	}
	var toast struct {
		Texts []struct {
			Placement string `xml:"placement,attr"`
			Text      string `xml:",chardata"`
		} `xml:"visual>binding>text"`
	}
	if err := xml.Unmarshal([]byte(doc), &toast); err != nil {
		t.Fatalf("toast XML %q: %v", doc, err)
	}
	var got []string
	for _, x := range toast.Texts {
		got = append(got, x.Placement+"|"+x.Text)
	}
	want := []string{"|" + title, "|" + strings.NewReplacer("\r", " ", "\n", " ").Replace(body), "attribution|" + app}
	if !slices.Equal(got, want) {
		t.Errorf("toast texts\n got %q\nwant %q", got, want)
	}
	_, rest, _ = strings.Cut(s, "CreateToastNotifier(")
	if aumid, _ := psUnquote(t, rest); aumid != powerShellAUMID {
		t.Errorf("AppUserModelID %q", aumid)
	}
	for _, want := range []string{"$t.ExpirationTime = [DateTimeOffset]::Now.AddSeconds(90)", "[Console]::Out.WriteLine('shown')", "if ([Console]::In.ReadLine() -eq 'hide') { $n.Hide($t) }\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if !slices.Equal(toastArgs, []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-Command", "-"}) {
		t.Errorf("argv %q: want fixed flags with the script on stdin", toastArgs)
	}
}
