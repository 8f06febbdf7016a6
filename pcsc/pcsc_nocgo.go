//go:build !cgo

package pcsc

import (
	"context"
	"log/slog"
)

// Option configures a Context.
type Option func(*Context)

// WithLogger sets a logger for debug messages.
func WithLogger(l *slog.Logger) Option { return func(*Context) {} }

// Context is a connection to the PC/SC daemon; this build has none.
type Context struct{}

// Open always fails with ErrNotCompiled: this binary was built without cgo.
func Open(ctx context.Context, opts ...Option) (*Context, error) { return nil, ErrNotCompiled }

// Readers fails with ErrNotCompiled.
func (c *Context) Readers() ([]string, error) { return nil, ErrNotCompiled }

// Connect fails with ErrNotCompiled.
func (c *Context) Connect(ctx context.Context, reader string) (*Card, error) {
	return nil, ErrNotCompiled
}

// Keys fails with ErrNotCompiled.
func (c *Context) Keys(ctx context.Context) ([]KeyInfo, error) { return nil, ErrNotCompiled }

// OpenKey fails with ErrNotCompiled.
func (c *Context) OpenKey(ctx context.Context, serial uint32) (*Card, KeyInfo, error) {
	return nil, KeyInfo{}, ErrNotCompiled
}

// Close does nothing.
func (c *Context) Close() error { return nil }

// Card is a connection to a card; this build has none.
type Card struct{}

// Begin fails with ErrNotCompiled.
func (k *Card) Begin(context.Context) error { return ErrNotCompiled }

// End fails with ErrNotCompiled.
func (k *Card) End() error { return ErrNotCompiled }

// Transmit fails with ErrNotCompiled.
func (k *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) { return nil, ErrNotCompiled }

// ATR fails with ErrNotCompiled.
func (k *Card) ATR() ([]byte, error) { return nil, ErrNotCompiled }

// Reader returns "".
func (k *Card) Reader() string { return "" }

// Close does nothing.
func (k *Card) Close() error { return nil }
