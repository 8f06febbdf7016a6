//go:build !cgo

package pcsc

import (
	"context"
	"errors"
	"testing"
)

func TestNotCompiled(t *testing.T) {
	c, err := Open(context.Background())
	if !errors.Is(err, ErrNotCompiled) || c != nil {
		t.Fatalf("Open = %v, %v; want ErrNotCompiled", c, err)
	}
	var k Card
	if _, err := k.Transmit(context.Background(), []byte{0, 0xA4, 4, 0}); !errors.Is(err, ErrNotCompiled) {
		t.Errorf("Transmit err = %v", err)
	}
	var cc Context
	if _, _, err := cc.OpenKey(context.Background(), 0); !errors.Is(err, ErrNotCompiled) {
		t.Errorf("OpenKey err = %v", err)
	}
}
