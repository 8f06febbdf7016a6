package oath_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// A whole session against the software YubiKey: select, store the RFC 6238
// SHA1 secret, compute the code for T = 59 s.
func Example() {
	ctx := context.Background()
	st, err := simulator.NewState(1, simulator.Version{Major: 5, Minor: 4, Patch: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := oath.NewClient(simulator.New(st))
	info, err := c.Select(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("firmware", info.VersionString(), "locked", info.Locked())

	name := oath.FormatName("Example", "alice", 30*time.Second, oath.TOTP)
	err = c.Put(ctx, oath.PutRequest{Name: name, Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 8,
		Key: []byte("12345678901234567890")})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _, period := oath.ParseName(name, oath.TOTP)
	r, err := c.Calculate(ctx, name, oath.TOTPChallenge(time.Unix(59, 0), period), true)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(name, r.Code())

	_, err = c.Calculate(ctx, "Example:bob", oath.TOTPChallenge(time.Unix(59, 0), period), true)
	fmt.Println(err)
	// Output:
	// firmware 5.4.3 locked false
	// Example:alice 94287082
	// oath: calculate: card answered 6984 (no such credential)
}
