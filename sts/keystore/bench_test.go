package keystore

import (
	"path/filepath"
	"testing"
)

// What a Get costs per store (software card for the sealed file; age at
// its default scrypt work factor 18).
func BenchmarkSealedGet(b *testing.B) {
	card := newSoftCard(b, 1, 0x9d)
	st, err := NewPIVStore(b.TempDir(), card.recipient(0x9d), opener(card))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Get(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAgeFileGet(b *testing.B) {
	st := NewAgeFile(b.TempDir(), staticPass("correct horse"))
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Get(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCredentialsFileGet(b *testing.B) {
	st := NewCredentialsFile(filepath.Join(b.TempDir(), "credentials"))
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Get(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
