package enroll

import "testing"

// FuzzParseJournal: any bytes give a journal or an error, never a panic.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"version":1,"profile":"p","user":"u","account_id":"1","old_serial":"o","new_name":"n","done":["create","put"],"pending":"enable"}`))
	f.Add([]byte(`{"version":1,"done":["bogus"]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseJournal(b)
		if err == nil && (j.Profile == "" || j.OldSerial == "") {
			t.Fatalf("accepted an incomplete journal: %+v", j)
		}
	})
}
