package awsconfig

import (
	"strings"
	"testing"
)

func TestRemoveCredentialsKeys(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		n              int
	}{
		{"lf", "[a]\naws_access_key_id = AKIA1\nregion = x\naws_secret_access_key=s\n[b]\naws_access_key_id = AKIA2\n",
			"[a]\nregion = x\n[b]\naws_access_key_id = AKIA2\n", 2},
		{"crlf, comments, no final eol", "# c\r\n[a]\r\n; k\r\nAWS_ACCESS_KEY_ID = AKIA1\r\naws_secret_access_key = s",
			"# c\r\n[a]\r\n; k\r\n", 2},
		{"indented key after a header is a key", "[a]\n  aws_access_key_id = x\n", "[a]\n", 1},
		{"sub-key of an empty key is not", "[a]\ns3 =\n  aws_access_key_id = x\n", "[a]\ns3 =\n  aws_access_key_id = x\n", 0},
		{"other profile only", "[b]\naws_access_key_id = AKIA2\n", "[b]\naws_access_key_id = AKIA2\n", 0},
		{"token too", "[a]\naws_session_token = t\naws_access_key_id = k\n", "[a]\n", 2},
		{"spaced header", "[ a ]\naws_access_key_id = k\n[b]\nx = 1\n", "[ a ]\n[b]\nx = 1\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, n, err := RemoveCredentialsKeys([]byte(tc.in), "a", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")
			if err != nil || string(out) != tc.want || n != tc.n {
				t.Fatalf("got %q (%d), want %q (%d)", out, n, tc.want, tc.n)
			}
		})
	}
}

func TestSetCredentialsKeys(t *testing.T) {
	in := "# top\r\n[default]\r\nregion = x\r\n\r\n[a]\r\naws_access_key_id  =  OLD ; was\r\n\r\n[b]\r\ny = 2"
	out, err := SetCredentialsKeys([]byte(in), "a", []Setting{{"aws_access_key_id", "NEW"}, {"aws_secret_access_key", "S"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "# top\r\n[default]\r\nregion = x\r\n\r\n[a]\r\naws_access_key_id  =  NEW ; was\r\naws_secret_access_key = S\r\n\r\n[b]\r\ny = 2"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
	out, err = SetCredentialsKeys([]byte("[b]\ny = 2"), "a", []Setting{{"aws_access_key_id", "K"}})
	if err != nil || string(out) != "[b]\ny = 2\n\n[a]\naws_access_key_id = K\n" {
		t.Fatalf("new section: %q, %v", out, err)
	}
	for _, bad := range []string{"", "a]b", " a", "a\nb"} {
		if _, err := SetCredentialsKeys(nil, bad, nil); err == nil {
			t.Errorf("profile %q accepted", bad)
		}
	}
	if _, err := SetCredentialsKeys(nil, "a", []Setting{{"k", "v\nw"}}); err == nil {
		t.Error("line break accepted")
	}
}

// Removing keys deletes whole lines of that profile only: the output is the
// input minus those lines, and afterwards the profile has none of the keys.
func FuzzRemoveCredentialsKeys(f *testing.F) {
	f.Add("[a]\naws_access_key_id = AKIA1\nregion = x\r\naws_secret_access_key=s\n[b]\naws_access_key_id = AKIA2", "a")
	f.Add("[ a ]\n\taws_access_key_id = x\n[a]\nAWS_Access_Key_Id: y", "a")
	f.Fuzz(func(t *testing.T, data, profile string) {
		keys := []string{"aws_access_key_id", "aws_secret_access_key"}
		out, n, err := RemoveCredentialsKeys([]byte(data), profile, keys...)
		if err != nil {
			return // refused: nothing to write
		}
		if n == 0 {
			if string(out) != data {
				t.Fatal("changed without removing")
			}
			return
		}
		if len(out) >= len(data) {
			t.Fatalf("removed %d lines but %d >= %d bytes", n, len(out), len(data))
		}
		// Every output line appears in the input in order.
		rest := data
		for _, l := range strings.SplitAfter(string(out), "\n") {
			i := strings.Index(rest, l)
			if i < 0 {
				t.Fatalf("line %q not from the input", l)
			}
			rest = rest[i+len(l):]
		}
		if again, m, err := RemoveCredentialsKeys(out, profile, keys...); err != nil || m != 0 || string(again) != string(out) {
			t.Fatalf("second removal changed more: %d, %v", m, err)
		}
		if vals, _, err := CredentialsKeys(out, profile, keys...); err != nil || vals[keys[0]] != "" || vals[keys[1]] != "" {
			t.Fatalf("keys left: %v, %v", vals, err)
		}
	})
}
