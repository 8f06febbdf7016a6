package lazyre

import (
	"sync"
	"testing"
)

func TestMatchString(t *testing.T) {
	re := New(`^[0-9]{12}$`)
	if re.re != nil {
		t.Fatal("New compiled the pattern; it must wait for first use")
	}
	for _, tt := range []struct {
		in   string
		want bool
	}{{"123456789012", true}, {"12345678901", false}, {"12345678901a", false}} {
		if got := re.MatchString(tt.in); got != tt.want {
			t.Errorf("MatchString(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Run with -race: first uses from several goroutines compile once.
func TestConcurrentFirstUse(t *testing.T) {
	re := New(`^a+$`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !re.MatchString("aaa") {
				t.Error("MatchString(aaa) = false")
			}
		}()
	}
	wg.Wait()
}
