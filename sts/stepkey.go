package sts

import "github.com/mfabridge/mfabridge/sts/stepcache"

// stepKey identifies a step's result in the cache (stepcache.StepKey, whose
// MarshalJSON writes what encoding/json's reflection would).
type stepKey = stepcache.StepKey
