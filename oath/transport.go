package oath

import "context"

// Transport sends one command APDU to a card and returns the card's raw
// answer: response data followed by the two status bytes SW1 SW2.
//
// A Transport does not interpret status words: 61xx continuation, command
// chaining and error mapping are the Client's job. Transmit returns an error
// only when the exchange itself failed (card removed, reader gone, context
// cancelled); a card answering an error status word is not a Transmit error.
// Both the PC/SC card (package pcsc) and the software YubiKey (package
// simulator) satisfy it.
type Transport interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}
