package simulator

import "log/slog"

// WithLogger sets the card's debug logger: touch waits and state saves that
// failed (the command is then refused). A nil logger, the default, discards.
func WithLogger(l *slog.Logger) Option { return func(c *Card) { c.log = l } }

var discardLog = slog.New(slog.DiscardHandler)

// logger is the card's logger, never nil.
func (c *Card) logger() *slog.Logger {
	if c.log == nil {
		return discardLog
	}
	return c.log
}
