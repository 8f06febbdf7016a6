package simulator_test

import (
	"context"
	"fmt"

	"github.com/mfabridge/mfabridge/simulator"
)

func Example() {
	st, err := simulator.NewState(12345678, simulator.Version{Major: 5, Minor: 4, Patch: 3})
	if err != nil {
		panic(err)
	}
	card := simulator.New(st)
	ctx := context.Background()
	for _, apdu := range [][]byte{
		{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08},             // SELECT PIV
		{0x00, 0xF8, 0x00, 0x00},                                                 // GET SERIAL
		{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}, // SELECT OATH
		{0x00, 0xA1, 0x00, 0x00, 0x00},                                           // LIST
	} {
		resp, err := card.Transmit(ctx, apdu)
		if err != nil {
			panic(err)
		}
		fmt.Printf("% X\n", resp[len(resp)-2:])
		if apdu[1] == 0xF8 {
			fmt.Printf("serial % X\n", resp[:4])
		}
	}
	s := card.Stats()
	fmt.Println(s.Total, s.Select, s.ByINS[0xA1])
	// Output:
	// 90 00
	// 90 00
	// serial 00 BC 61 4E
	// 90 00
	// 90 00
	// 4 2 1
}
